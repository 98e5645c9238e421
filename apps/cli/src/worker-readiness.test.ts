import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { submitRun } from '@plainloop/agent';
import { isTerminalStatus, RunRequest, type RunState } from '@plainloop/contracts';
import {
  createKeySchema,
  createRedisClient,
  createRunQueue,
  type RedisConnection,
  RunStore,
} from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  type RestartableRedis,
  startFakeOpenAIServer,
  startRestartableRedis,
  uniquePrefix,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FleetProcess, freePort, startPlainloopProcess, stopProcesses } from './demo/fleet-processes.ts';
import { exitOf, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/slow-tool-agent.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'readiness-test', level: 'silent' });
const usage = { prompt: 100, completion: 10 };

type Probe = { status: number; type: string | null; body: unknown } | 'closed';

/** One probe as an orchestrator makes it: a GET with a short timeout; no answer at all is `closed`. */
async function probe(url: string): Promise<Probe> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: await response.json(),
    };
  } catch {
    return 'closed';
  }
}

const statusOf = (answer: Probe) => (answer === 'closed' ? 'closed' : answer.status);

// A real `plainloop worker` process, started before its Redis, as an orchestrator may well do.
describe('worker health and readiness', { timeout: 120_000 }, () => {
  let redis: RestartableRedis;
  let model: FakeProviderServer;
  let scratch: string;
  let producer: RedisConnection | undefined;
  let queue: Queue | undefined;
  const processes: FleetProcess[] = [];

  beforeEach(async () => {
    redis = await startRestartableRedis();
    model = await startFakeOpenAIServer();
    scratch = await mkdtemp(join(tmpdir(), 'plainloop-readiness-'));
  });
  afterEach(async () => {
    await stopProcesses(processes.splice(0), 2_000);
    await queue?.close();
    producer?.disconnect();
    await model.close();
    await redis.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('is live but not ready while Redis is away, becomes ready and works when it comes, and is not ready once SIGTERMed', async () => {
    const markers = join(scratch, 'markers');
    // The first run's tool is quick; the second's takes long enough to watch the worker shut down.
    model.respondWith(({ body }) => {
      const messages = body.messages as Array<{ role: string }>;
      const slow = JSON.stringify(messages).includes('slow-key');
      if (!messages.some((message) => message.role === 'tool')) {
        const key = slow ? 'slow-key' : 'quick-key';
        const firstRunDelayMs = slow ? 4_000 : 0;
        return {
          kind: 'completion',
          toolCalls: [{ name: 'slow_lookup', arguments: { key, markerDirectory: markers, firstRunDelayMs } }],
          usage,
        };
      }
      return { kind: 'completion', text: 'found it', usage };
    });
    // Nothing listens on Redis's port when the worker starts.
    await redis.crash();
    const prefix = uniquePrefix();
    const healthPort = await freePort();
    const health = `http://127.0.0.1:${healthPort}`;
    const worker = startPlainloopProcess(
      'worker-early',
      ['worker', '--agents', agentsPath, '--concurrency', '1', '--health-port', String(healthPort)],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: prefix,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_SHUTDOWN_TIMEOUT_MS: '20000',
      },
      scratch,
    );
    processes.push(worker);

    // Liveness does not depend on Redis: an orchestrator must not restart a worker for Redis's outage.
    const alive = await waitFor('liveness', async () => {
      const answer = await probe(`${health}/healthz`);
      return statusOf(answer) === 200 ? answer : undefined;
    });
    expect(alive).toEqual({ status: 200, type: 'application/json', body: { status: 'ok' } });
    const waiting = await waitFor('the first failed attempt', async () => {
      const answer = await probe(`${health}/readyz`);
      return answer !== 'closed' && JSON.stringify(answer.body).includes('unreachable') ? answer : undefined;
    });
    expect(waiting).toEqual({
      status: 503,
      type: 'application/problem+json',
      body: {
        type: 'https://plainloop.dev/problems/not_ready',
        title: 'not_ready',
        status: 503,
        detail: expect.stringMatching(/^Redis is unreachable \(connect ECONNREFUSED .+\); waiting for it$/),
      },
    });
    const log = () => readFileSync(worker.logFile, 'utf8');
    expect(log().split(`Redis at ${redis.url} is unreachable; waiting for it (not ready)`)).toHaveLength(2);
    expect(worker.child.exitCode).toBeNull();

    await redis.start();
    const ready = await waitFor(
      'readiness once Redis is up',
      async () => {
        const answer = await probe(`${health}/readyz`);
        return statusOf(answer) === 200 ? answer : undefined;
      },
      20_000,
    );
    expect(ready).toEqual({ status: 200, type: 'application/json', body: { status: 'ready' } });

    // Ready means working: a run submitted now is done by this worker.
    producer = createRedisClient(redis.url, 'worker');
    producer.on('error', () => {});
    const keys = createKeySchema(prefix);
    queue = createRunQueue(producer, keys);
    queue.on('error', () => {});
    const store = new RunStore(producer, keys);
    const submit = async (key: string) => {
      const request = RunRequest.parse({ agent: 'slow-lookup', input: { key } });
      return (await submitRun({ store, queue: queue as Queue, logger }, request, Date.now())).state.runId;
    };
    const ended = (runId: string) =>
      waitFor('the run to end', async () => {
        const state = await store.load('default', runId);
        return state && isTerminalStatus(state.status) ? state : undefined;
      });
    const quick = await submit('quick-key');
    expect(await ended(quick)).toMatchObject<Partial<RunState>>({ status: 'succeeded', output: 'found it' });
    expect((await queue.getJob(quick))?.processedBy).toMatch(new RegExp(`^worker-${worker.child.pid}-`));

    // Redis away while the worker runs: still live, not ready; ready again when Redis is back.
    await redis.crash();
    const outage = await waitFor('not ready during the outage', async () => {
      const answer = await probe(`${health}/readyz`);
      return statusOf(answer) === 503 ? answer : undefined;
    });
    // Either the connection is seen down, or a PING sent as it dropped goes unanswered.
    expect(outage).toMatchObject({
      body: {
        title: 'not_ready',
        detail: expect.stringMatching(/^(the connection to Redis is \w+|Redis did not answer PING.*)$/),
      },
    });
    expect(statusOf(await probe(`${health}/healthz`))).toBe(200);
    await redis.start();
    await waitFor(
      'readiness after the outage',
      async () => (statusOf(await probe(`${health}/readyz`)) === 200 ? true : undefined),
      30_000,
    );

    // SIGTERM while a slow tool runs: not ready at once, still live while the run reaches its
    // checkpoint, then the port closes and the process exits 0.
    const slow = await submit('slow-key');
    // Each first run of the tool leaves a marker: the quick run's, then the slow run's.
    await waitFor('the slow tool to start', () =>
      existsSync(markers) && readdirSync(markers).filter((name) => name.startsWith('run_')).length === 2
        ? true
        : undefined,
    );
    worker.child.kill('SIGTERM');
    const draining = await waitFor('not ready once shutting down', async () => {
      const answer = await probe(`${health}/readyz`);
      return statusOf(answer) === 503 ? answer : undefined;
    });
    expect(draining).toMatchObject({ body: { title: 'not_ready', detail: 'the worker is shutting down' } });
    expect(statusOf(await probe(`${health}/healthz`))).toBe(200);
    expect(worker.child.exitCode).toBeNull();
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    expect(await probe(`${health}/healthz`)).toBe('closed');
    // The run was given back at its checkpoint, for the next worker.
    expect(await store.load('default', slow)).toMatchObject({ status: 'running', step: 1, pending: null });
  });

  it('exits after SIGTERM within its grace period even when Redis went away under it', async () => {
    const healthPort = await freePort();
    const health = `http://127.0.0.1:${healthPort}`;
    const worker = startPlainloopProcess(
      'worker-orphaned',
      ['worker', '--agents', agentsPath, '--concurrency', '1', '--health-port', String(healthPort)],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: uniquePrefix(),
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_SHUTDOWN_TIMEOUT_MS: '500',
      },
      scratch,
    );
    processes.push(worker);
    await waitFor(
      'readiness',
      async () => (statusOf(await probe(`${health}/readyz`)) === 200 ? true : undefined),
      20_000,
    );
    await redis.crash();
    await waitFor('not ready', async () =>
      statusOf(await probe(`${health}/readyz`)) === 503 ? true : undefined,
    );
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    // The shutdown timeout, the ten-second grace after it, and a few seconds of bounded closing: an
    // orchestrator's SIGKILL never has to end it.
    expect(await exitOf(worker)).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(20_000);
  });

  it('exits 0 at once on SIGTERM during start-up, when Redis answers PING but stalls writes, and takes no run', async () => {
    const prefix = uniquePrefix();
    producer = createRedisClient(redis.url, 'worker');
    producer.on('error', () => {});
    const keys = createKeySchema(prefix);
    queue = createRunQueue(producer, keys);
    queue.on('error', () => {});
    const store = new RunStore(producer, keys);
    // A run waits in the queue before the worker comes.
    const request = RunRequest.parse({ agent: 'slow-lookup', input: { key: 'quick-key' } });
    const { runId } = (await submitRun({ store, queue, logger }, request, Date.now())).state;
    // Its own connection: a client's commands run in order, so one stalled write would hold up the rest.
    const admin = createRedisClient(redis.url, 'worker');
    admin.on('error', () => {});
    try {
      // PING and the ready check are no writes: the worker gets past its wait for Redis, then its
      // start-up's first write waits (for the pause, here; for ever, on a connection that never answers).
      await admin.client('PAUSE', '30000', 'WRITE');
      const healthPort = await freePort();
      const worker = startPlainloopProcess(
        'worker-stalled',
        ['worker', '--agents', agentsPath, '--concurrency', '1', '--health-port', String(healthPort)],
        {
          PATH: process.env.PATH,
          REDIS_URL: redis.url,
          PLAINLOOP_REDIS_PREFIX: prefix,
          OPENAI_API_KEY: 'sk-test',
          OPENAI_BASE_URL: model.baseUrl,
        },
        scratch,
      );
      processes.push(worker);
      const stalled = new RegExp(`name=worker-${worker.child.pid}-\\w+ .*flags=b .*cmd=hset`);
      await waitFor(
        'the worker to stall on its first write',
        async () => (stalled.test(String(await admin.client('LIST'))) ? true : undefined),
        20_000,
      );
      const signalledAt = Date.now();
      worker.child.kill('SIGTERM');
      const exit = await Promise.race([exitOf(worker), sleep(10_000).then(() => 'still running')]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(5_000);
      const log = readFileSync(worker.logFile, 'utf8');
      expect(log).toContain('stopped during start-up: no run was taken');
      expect(log).not.toContain('worker started');
      // Writes go through again: the run is still queued, for a worker that starts.
      await admin.client('UNPAUSE');
      expect(await queue.getJobState(runId)).toBe('waiting');
      expect(await store.load('default', runId)).toMatchObject({ status: 'queued' });
    } finally {
      await admin.client('UNPAUSE').catch(() => undefined);
      admin.disconnect();
    }
  });
});
