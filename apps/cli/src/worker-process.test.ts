import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import {
  countShardEvents,
  type FakeProviderServer,
  sampleValue,
  scrape,
  startFakeOpenAIServer,
  sumOf,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FleetProcess, freePort, startPlainloopProcess, stopProcesses } from './demo/fleet-processes.ts';
import { exitOf, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/slow-tool-agent.ts', import.meta.url).pathname;
const usagePerCall = { prompt: 1_000, completion: 100 };
// gpt-4.1-mini list price: $0.40 per 1M input tokens, $1.60 per 1M output tokens.
const costPerCall = (1_000 * 0.4 + 100 * 1.6) / 1_000_000;

// Real processes, real Redis, real timeouts: generous limits so a loaded CI machine does not flake.
describe('worker processes under failure', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let model: FakeProviderServer;
  let scratch: string;
  let markers: string;
  const processes: FleetProcess[] = [];

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    queue = createRunQueue(producer, redis.keys);
    model = await startFakeOpenAIServer();
    scratch = await mkdtemp(join(tmpdir(), 'plainloop-worker-test-'));
    markers = join(scratch, 'markers');
  });
  afterEach(async () => {
    await stopProcesses(processes.splice(0), 2_000);
    await queue.close();
    await model.close();
    await redis.close();
    await rm(scratch, { recursive: true, force: true });
  });

  function startWorker(name: string): FleetProcess {
    const worker = startPlainloopProcess(
      name,
      ['worker', '--agents', agentsPath, '--concurrency', '1'],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_LOCK_DURATION_MS: '2000',
        PLAINLOOP_STALLED_INTERVAL_MS: '1000',
        PLAINLOOP_SHUTDOWN_TIMEOUT_MS: '20000',
        PLAINLOOP_LOG_LEVEL: 'info',
        PLAINLOOP_WORKER_HEALTH_PORT: '0',
      },
      scratch,
    );
    processes.push(worker);
    return worker;
  }

  /** The fake model: first a call of slow_lookup, then, once it sees the tool result, the final answer. */
  function scriptModel(firstRunDelayMs: number) {
    model.respondWith(({ body }) => {
      const messages = body.messages as Array<{ role: string }>;
      if (!messages.some((message) => message.role === 'tool')) {
        return {
          kind: 'completion',
          toolCalls: [
            { name: 'slow_lookup', arguments: { key: 'k-1', markerDirectory: markers, firstRunDelayMs } },
          ],
          usage: usagePerCall,
        };
      }
      return { kind: 'completion', text: 'k-1 is value of k-1', usage: usagePerCall };
    });
  }

  async function submit(): Promise<string> {
    const store = new RunStore(producer, redis.keys);
    const request = RunRequest.parse({ agent: 'slow-lookup', input: { key: 'k-1' } });
    await waitFor('the worker to publish its agents', async () =>
      (await producer.hexists(redis.keys.agents, 'slow-lookup')) ? true : undefined,
    );
    const submitted = await submitRun(
      {
        store,
        queue,
        logger: createLogger({ service: 'test', level: 'silent' }),
      },
      request,
      Date.now(),
    );
    return submitted.state.runId;
  }

  async function finishedRun(runId: string): Promise<RunState> {
    const store = new RunStore(producer, redis.keys);
    return waitFor(
      'the run to finish',
      async () => {
        const state = await store.load('default', runId);
        return state && ['succeeded', 'failed'].includes(state.status) ? state : undefined;
      },
      45_000,
    );
  }

  const markerCount = () =>
    existsSync(markers) ? readdirSync(markers).filter((name) => name.startsWith('run_')).length : 0;

  it('finishes a run from its checkpoint after its worker is SIGKILLed, without repeating the model call', async () => {
    scriptModel(60_000);
    const first = startWorker('worker-killed');
    const runId = await submit();
    // The marker appears once the model's answer is checkpointed and the slow tool is running.
    await waitFor('the slow tool to start', () => (markerCount() === 1 ? true : undefined));
    expect(model.requests).toHaveLength(1);

    first.child.kill('SIGKILL');
    expect((await exitOf(first)).signal).toBe('SIGKILL');

    startWorker('worker-survivor');
    const state = await finishedRun(runId);

    expect(state).toMatchObject({
      status: 'succeeded',
      output: 'k-1 is value of k-1',
      step: 2,
      llmCalls: 2,
      attempt: 2,
    });
    // Two model calls in all: step 0's answer came from the checkpoint, not from a second request.
    expect(model.requests).toHaveLength(2);
    const store = new RunStore(producer, redis.keys);
    const ledger = await store.loadModelCalls('default', runId);
    expect(ledger.map((call) => call.step)).toEqual([0, 1]);
    expect(state.costUsd).toBeCloseTo(2 * costPerCall, 12);
    expect(state.usage).toMatchObject({ inputTokens: 2_000, outputTokens: 200 });
    const events = (await new RunEventStream(producer, redis.keys).readRun('default', runId)).map(
      ({ event }) => event.type,
    );
    expect(events.filter((type) => type === 'llm.called')).toHaveLength(2);
    expect(events).toContain('run.resumed');
  });

  it("keeps a step's events with its checkpoint across a SIGKILL: the metrics count exactly what the streams hold", async () => {
    const metricsUrl = `http://127.0.0.1:${await freePort()}`;
    processes.push(
      startPlainloopProcess(
        'metrics',
        ['metrics', '--port', new URL(metricsUrl).port],
        { PATH: process.env.PATH, REDIS_URL: redis.url, PLAINLOOP_REDIS_PREFIX: redis.prefix },
        scratch,
      ),
    );
    const eventTypes = async (runId: string) =>
      (await new RunEventStream(producer, redis.keys).readRun('default', runId)).map(
        ({ event }) => event.type,
      );
    /** Waits until the metrics process has applied every event in the shard streams, and returns its samples. */
    const caughtUp = (finishedRuns: number) =>
      waitFor('the metrics process to apply every event', async () => {
        const samples = await scrape(metricsUrl).catch(() => undefined);
        if (samples === undefined) return undefined;
        const published = await countShardEvents(producer, redis.keys);
        const settled =
          sampleValue(samples, 'plainloop_event_consumer_lag') === 0 &&
          sampleValue(samples, 'plainloop_event_consumer_pending') === 0 &&
          sumOf(samples, 'plainloop_runs_finished_total') === finishedRuns;
        return settled && sumOf(samples, 'plainloop_events_total') === published ? samples : undefined;
      });

    scriptModel(60_000);
    const first = startWorker('worker-killed');
    const runId = await submit();
    // The marker is written by the tool, which runs only once the model call's checkpoint has landed.
    await waitFor('the slow tool to start', () => (markerCount() === 1 ? true : undefined));
    first.child.kill('SIGKILL');
    expect((await exitOf(first)).signal).toBe('SIGKILL');

    // The model call's events landed with its checkpoint, and the metrics count them and nothing else.
    const atKill = await eventTypes(runId);
    expect(atKill).toEqual(['run.queued', 'run.started', 'step.started', 'llm.called']);
    const killed = await caughtUp(0);
    expect(sumOf(killed, 'plainloop_llm_requests_total')).toBe(1);

    startWorker('worker-survivor');
    await finishedRun(runId);
    const resumed = await eventTypes(runId);
    const finished = await caughtUp(1);
    expect(sumOf(finished, 'plainloop_llm_requests_total')).toBe(2);
    expect(sumOf(finished, 'plainloop_tool_calls_total')).toBe(1);
    expect(sumOf(finished, 'plainloop_runs_resumed_total')).toBe(1);

    // The killed step's events are there once each, followed by the resumption's: nothing lost, nothing twice.
    // (The tool was running when its worker died, so it is reported as of unknown outcome, not run again.)
    expect(resumed).toEqual([
      ...atKill,
      'run.resumed',
      'tool.failed',
      'step.started',
      'llm.called',
      'run.finished',
    ]);
  });

  it('on SIGTERM finishes the phase in flight, gives the run back and exits 0; another worker completes it', async () => {
    scriptModel(1_500);
    const first = startWorker('worker-stopped');
    const runId = await submit();
    await waitFor('the slow tool to start', () => (markerCount() === 1 ? true : undefined));

    first.child.kill('SIGTERM');
    expect(await exitOf(first)).toEqual({ code: 0, signal: null });

    const store = new RunStore(producer, redis.keys);
    const released = await store.load('default', runId);
    // The tool's result was checkpointed before the worker let go: the step is committed, not lost.
    expect(released).toMatchObject({ status: 'running', step: 1, pending: null, toolCalls: 1 });
    expect(await queue.getJobState(runId)).toMatch(/^(delayed|waiting|wait)$/);

    startWorker('worker-next');
    const state = await finishedRun(runId);
    expect(state).toMatchObject({ status: 'succeeded', step: 2, llmCalls: 2, toolCalls: 1, attempt: 2 });
    expect(model.requests).toHaveLength(2);
  });
});
