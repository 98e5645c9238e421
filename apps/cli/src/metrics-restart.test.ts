import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  countShardEvents,
  type FakeProviderServer,
  sampleValue,
  scrape,
  startFakeOpenAIServer,
  sumOf,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FleetProcess, freePort, startPlainloopProcess, stopProcesses } from './demo/fleet-processes.ts';
import { exitOf, type Fleet, startFleet } from './test-fixtures/fleet-harness.ts';
import { monitoringModel } from './test-fixtures/monitoring-model.ts';

const agentsPath = new URL('./test-fixtures/monitoring-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
const runCount = 40;

describe('the metrics process killed mid-load', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let fleet: Fleet;
  const metricsProcesses: FleetProcess[] = [];

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
    // Slow enough answers that the load is still going when the metrics process dies.
    model.respondWith(monitoringModel({ flakyIsDown: false, delayMs: 80 }));
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: model.baseUrl },
    });
  });
  afterEach(async () => {
    await stopProcesses(metricsProcesses.splice(0), 2_000);
    await fleet.stop();
    await queue.close();
    await model.close();
    await redis.close();
  });

  function startMetricsProcess(name: string, port: number): FleetProcess {
    const started = startPlainloopProcess(
      name,
      ['metrics', '--port', String(port)],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        PLAINLOOP_METRICS_CONSUMER: 'metrics-0',
      },
      fleet.directory,
    );
    metricsProcesses.push(started);
    return started;
  }

  it('misses no event: every event in the stream is counted once across a SIGKILL and a restart', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = startMetricsProcess('metrics-1', port);
    fleet.startWorker('worker-1');
    fleet.startWorker('worker-2');
    await waitFor('workers to publish their agents', async () =>
      (await producer.hexists(redis.keys.agents, 'steady')) ? true : undefined,
    );
    const runIds: string[] = [];
    for (let index = 0; index < runCount; index += 1) {
      const request = RunRequest.parse({ agent: 'steady', input: { plan: 'lookup' } });
      const submitted = await submitRun({ store, queue, logger }, request, Date.now());
      runIds.push(submitted.state.runId);
    }

    // Kill it once it has applied part of the load, while workers keep publishing.
    const before = await waitFor(
      'the metrics process to count some finished runs',
      async () => {
        const samples = await scrape(url).catch(() => undefined);
        if (!samples || sumOf(samples, 'plainloop_runs_finished_total') < 5) return undefined;
        return {
          applied: sumOf(samples, 'plainloop_events_total'),
          finished: sumOf(samples, 'plainloop_runs_finished_total'),
        };
      },
      60_000,
    );
    first.child.kill('SIGKILL');
    await exitOf(first);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    startMetricsProcess('metrics-2', port);

    const finished: RunState[] = [];
    for (const runId of runIds) {
      finished.push(
        await waitFor(`run ${runId}`, async () => {
          const state = await store.load('default', runId);
          return state?.status === 'succeeded' ? state : undefined;
        }),
      );
    }
    const samples = await waitFor('the restarted process to catch up', async () => {
      const latest = await scrape(url).catch(() => undefined);
      if (!latest) return undefined;
      const caughtUp =
        sampleValue(latest, 'plainloop_event_consumer_lag') === 0 &&
        sampleValue(latest, 'plainloop_event_consumer_pending') === 0 &&
        sumOf(latest, 'plainloop_runs_finished_total') === runCount;
      return caughtUp ? latest : undefined;
    });
    const published = await countShardEvents(producer, redis.keys);
    const applied = sumOf(samples, 'plainloop_events_total');
    const modelCalls = finished.reduce((total, run) => total + run.llmCalls, 0);

    expect(applied).toBe(published);
    expect(sampleValue(samples, 'plainloop_events_total', { type: 'unreadable' })).toBeUndefined();
    expect(
      sampleValue(samples, 'plainloop_runs_finished_total', { agent: 'steady', status: 'succeeded' }),
    ).toBe(runCount);
    expect(sumOf(samples, 'plainloop_llm_requests_total')).toBe(modelCalls);
    expect(before.finished).toBeLessThan(runCount);
    process.stdout.write(
      `metrics restart: ${published} events published, ${applied} applied once each across a SIGKILL of the metrics process (it had counted ${before.applied} events and ${before.finished} of ${runCount} runs when it died)\n`,
    );
  });
});
