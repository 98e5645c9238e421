import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { CircuitBreaker } from '@plainloop/llm';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FleetProcess, startPlainloopProcess, stopProcesses } from './demo/fleet-processes.ts';
import { waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/routing-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
/** Long enough to outlast starting a second worker process, short enough for a test. */
const cooldownMs = 8_000;

// Real worker processes sharing one Redis: what one learns about a model, the others must act on.
describe('a fleet of worker processes routing model calls', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let scratch: string;
  let flakyIsDown: boolean;
  const processes: FleetProcess[] = [];

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
    flakyIsDown = true;
    model.respondWith(({ body }) =>
      body.model === 'flaky' && flakyIsDown
        ? { kind: 'error', status: 500, message: 'flaky is down' }
        : { kind: 'completion', text: `answered by ${String(body.model)}` },
    );
    scratch = await mkdtemp(join(tmpdir(), 'plainloop-fleet-test-'));
  });
  afterEach(async () => {
    await stopProcesses(processes.splice(0), 2_000);
    await queue.close();
    await model.close();
    await redis.close();
    await rm(scratch, { recursive: true, force: true });
  });

  function startWorker(name: string, extra: Record<string, string> = {}): FleetProcess {
    const worker = startPlainloopProcess(
      name,
      ['worker', '--agents', agentsPath, '--concurrency', '2'],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_RETRY_BASE_DELAY_MS: '10',
        PLAINLOOP_RETRY_MAX_DELAY_MS: '20',
        PLAINLOOP_BREAKER_COOLDOWN_MS: String(cooldownMs),
        PLAINLOOP_WORKER_HEALTH_PORT: '0',
        ...extra,
      },
      scratch,
    );
    processes.push(worker);
    return worker;
  }

  async function submit(agent: string, question: string): Promise<string> {
    await waitFor('a worker to publish its agents', async () =>
      (await producer.hexists(redis.keys.agents, agent)) ? true : undefined,
    );
    const request = RunRequest.parse({ agent, input: { question } });
    const submitted = await submitRun({ store, queue, logger }, request, Date.now());
    return submitted.state.runId;
  }

  const settled = (runId: string) =>
    waitFor(`run ${runId} to finish`, async () => {
      const state = await store.load('default', runId);
      return state && ['succeeded', 'failed'].includes(state.status) ? state : undefined;
    });
  const requestsFor = (modelId: string) =>
    model.requests.filter((request) => request.body.model === modelId).length;
  const eventTypes = async (runId: string) =>
    (await new RunEventStream(producer, redis.keys).readRun('default', runId)).map(({ event }) => event);

  it('opens the breaker after three failures, a second worker process skips the model, and a probe closes it', async () => {
    const first = startWorker('worker-1');
    const opened = await settled(await submit('flaky-first', 'one'));
    expect(opened).toMatchObject({ status: 'succeeded', output: 'answered by steady' });
    expect(requestsFor('flaky')).toBe(3);
    expect(await eventTypes(opened.runId)).toContainEqual(
      expect.objectContaining({ type: 'breaker.opened', model: 'openai:flaky', failures: 3 }),
    );

    // Another worker process, which never saw flaky fail, must not call it while the breaker is open.
    await stopProcesses([first]);
    startWorker('worker-2');
    const skipped = await settled(await submit('flaky-first', 'two'));
    expect(skipped).toMatchObject({ status: 'succeeded', output: 'answered by steady' });
    expect(requestsFor('flaky')).toBe(3);
    const breaker = new CircuitBreaker(producer, redis.keys, {
      failureThreshold: 3,
      cooldownMs,
      probeLeaseMs: 90_000,
    });
    const open = (await breaker.read()).find((snapshot) => snapshot.model === 'openai:flaky');
    expect(open).toMatchObject({ state: 'open' });

    // The model recovers; after the cooldown one probe call goes through, succeeds, and closes it.
    flakyIsDown = false;
    await sleep(Math.max(0, (open?.openedAt ?? 0) + cooldownMs - Date.now()) + 200);
    const probed = await settled(await submit('flaky-first', 'three'));
    expect(probed).toMatchObject({ status: 'succeeded', output: 'answered by flaky' });
    expect(requestsFor('flaky')).toBe(4);
    expect(await eventTypes(probed.runId)).toContainEqual(
      expect.objectContaining({ type: 'breaker.closed', model: 'openai:flaky' }),
    );
    expect(await breaker.read()).toContainEqual(
      expect.objectContaining({ model: 'openai:flaky', state: 'closed' }),
    );
  });

  it('stops every worker process calling a model within a second of its breaker opening anywhere', async () => {
    flakyIsDown = false;
    // Each worker is told apart at the fake server by its API key; a long cooldown keeps the breaker open.
    const workers = ['sk-worker-1', 'sk-worker-2'];
    for (const [index, apiKey] of workers.entries()) {
      startWorker(`worker-${index + 1}`, { OPENAI_API_KEY: apiKey, PLAINLOOP_BREAKER_COOLDOWN_MS: '60000' });
    }
    await waitFor('both workers', async () => ((await queue.getWorkersCount()) >= 2 ? true : undefined));
    const callers = (modelId: string, from: number) =>
      new Set(
        model.requests
          .filter(({ body, receivedAt }) => body.model === modelId && receivedAt > from)
          .map(({ headers }) => String(headers.authorization).replace('Bearer ', '')),
      );

    // A steady stream of runs, so that both workers hold a fresh copy of the closed breaker.
    const runIds: string[] = [];
    let submitting = true;
    const submitter = (async () => {
      for (let index = 0; submitting; index += 1) {
        runIds.push(await submit('flaky-first', `question ${index}`));
        await sleep(20);
      }
    })();
    const warmedAt = Date.now();
    await waitFor('both workers to call flaky', async () =>
      callers('flaky', warmedAt).size === 2 ? true : undefined,
    );

    flakyIsDown = true;
    const breaker = new CircuitBreaker(producer, redis.keys, {
      failureThreshold: 3,
      cooldownMs: 60_000,
      probeLeaseMs: 90_000,
    });
    const openedAt = await waitFor('the breaker to open', async () => {
      const snapshot = (await breaker.read()).find(({ model: ref }) => ref === 'openai:flaky');
      return snapshot?.state === 'open' ? snapshot.openedAt : undefined;
    });
    await sleep(2_500);
    submitting = false;
    await submitter;
    const states = await Promise.all(runIds.map((runId) => settled(runId)));

    expect(callers('flaky', openedAt + 1_000)).toEqual(new Set());
    // Both workers were still taking runs, on the fallback model, after that second.
    expect(callers('steady', openedAt + 1_000)).toEqual(new Set(workers));
    expect(states.every(({ status }) => status === 'succeeded')).toBe(true);
  });

  it('keeps two worker processes together under one configured requests-per-minute, and parks the rest', async () => {
    const limits = { PLAINLOOP_MODEL_LIMITS: JSON.stringify({ 'openai:steady': { requestsPerMinute: 4 } }) };
    startWorker('worker-1', limits);
    startWorker('worker-2', limits);
    await waitFor('both workers', async () => ((await queue.getWorkersCount()) >= 2 ? true : undefined));
    const runIds: string[] = [];
    for (let index = 0; index < 7; index += 1) runIds.push(await submit('steady-only', `question ${index}`));

    const states = await waitFor('four answers and three waiting runs', async () => {
      const all = (await Promise.all(runIds.map((runId) => store.load('default', runId)))) as RunState[];
      const succeeded = all.filter((state) => state.status === 'succeeded').length;
      const waiting = all.filter((state) => state.status === 'waiting').length;
      return succeeded === 4 && waiting === 3 ? all : undefined;
    });
    expect(requestsFor('steady')).toBe(4);
    for (const state of states.filter((each) => each.status === 'waiting')) {
      // Parked until the window has room again, about a minute after the first calls: no slot held meanwhile.
      expect((state.waitingUntil ?? 0) - Date.now()).toBeGreaterThan(30_000);
      expect(await queue.getJobState(state.runId)).toBe('delayed');
      expect(await eventTypes(state.runId)).toContainEqual(
        expect.objectContaining({ type: 'run.waiting', reason: 'rate_limited' }),
      );
    }
    // Nobody spins on the limit: no more requests, and never a 429 from the provider.
    await sleep(2_000);
    expect(requestsFor('steady')).toBe(4);
  });
});
