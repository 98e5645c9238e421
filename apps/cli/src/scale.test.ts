import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { submitRun } from '@plainloop/agent';
import { isTerminalStatus, RunRequest, type RunState } from '@plainloop/contracts';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FleetProcess } from './demo/fleet-processes.ts';
import { chaosModel } from './test-fixtures/chaos-model.ts';
import { exitOf, type Fleet, startFleet, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/chaos-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'scale', level: 'silent' });
const runCount = 48;

const live = (worker: FleetProcess) => worker.child.exitCode === null && worker.child.signalCode === null;

// Three real worker processes share one load; two of them leave mid-load, one politely, one not.
describe('a fleet under load', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let fleet: Fleet;

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect();
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
  });
  afterEach(async () => {
    await fleet?.stop();
    await queue.close();
    await model.close();
    await redis.close();
  });

  /**
   * Who finished each run, by BullMQ's record of its job: `processedBy` is the name of the worker that
   * last took the job (`worker-<pid>-<random>`), and only the holder of a job's lock can complete it. So
   * every completed job counts for exactly one process, even a run that a worker finished just before it
   * was killed and whose job the next worker completed.
   */
  async function sharesOf(workers: readonly FleetProcess[]): Promise<{ done: number; shares: number[] }> {
    const completed = await queue.getCompleted(0, -1);
    const shares = workers.map(
      (worker) =>
        completed.filter((job) => job.processedBy?.startsWith(`worker-${worker.child.pid}-`)).length,
    );
    return { done: completed.length, shares };
  }

  it('finishes every run while one worker is SIGTERMed and another SIGKILLed mid-load, and each did its share', async () => {
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: model.baseUrl },
    });
    // Each run: three model calls of 100 ms and two tools (300 ms and 200 ms), so about a second.
    model.respondWith(
      chaosModel({
        effectsDirectory: join(fleet.directory, 'effects'),
        markerDirectory: join(fleet.directory, 'markers'),
        delayMs: 100,
      }),
    );
    const workers = ['worker-1', 'worker-2', 'worker-3'].map((name) => fleet.startWorker(name));
    const [stopped, killed, survivor] = workers as [FleetProcess, FleetProcess, FleetProcess];
    // Every worker is taking jobs before the first run is queued, so all three share from the start.
    await waitFor('the three workers', async () => ((await queue.getWorkersCount()) >= 3 ? true : undefined));
    const runIds: string[] = [];
    for (let index = 0; index < runCount; index += 1) {
      const request = RunRequest.parse({ agent: 'payments', input: { task: `payment ${index}` } });
      runIds.push((await submitRun({ store, queue, logger }, request, Date.now())).state.runId);
    }
    const started = Date.now();

    // A quarter of the way, SIGTERM one worker; half way, SIGKILL another. Each must have finished a run
    // first, so the test shows a worker's share up to its stop.
    let stoppedAt: number | undefined;
    let killedAt: number | undefined;
    const deadline = Date.now() + 60_000;
    while (killedAt === undefined && Date.now() < deadline) {
      const { done, shares } = await sharesOf(workers);
      if (stoppedAt === undefined && done >= runCount / 4 && (shares[0] ?? 0) > 0) {
        stopped.child.kill('SIGTERM');
        stoppedAt = done;
      } else if (stoppedAt !== undefined && done >= runCount / 2 && (shares[1] ?? 0) > 0) {
        killed.child.kill('SIGKILL');
        killedAt = done;
      }
      await sleep(50);
    }
    expect(stoppedAt).toBeDefined();
    expect(killedAt).toBeDefined();
    // Stopped well before the end: the load was still there to be taken over.
    expect(killedAt).toBeLessThan(runCount * 0.75);
    expect(await exitOf(stopped)).toEqual({ code: 0, signal: null });
    expect(await exitOf(killed)).toEqual({ code: null, signal: 'SIGKILL' });

    // The survivor takes the rest: the runs the SIGTERMed worker gave back at once, and the SIGKILLed
    // worker's runs once their locks expire (BullMQ's stalled-job check, 2 s locks in the harness).
    const states = await waitFor(
      'every run to finish',
      async () => {
        const all = await Promise.all(runIds.map((runId) => store.load('default', runId)));
        const ended = all.filter(
          (state): state is RunState => state !== undefined && isTerminalStatus(state.status),
        );
        return ended.length === runIds.length ? ended : undefined;
      },
      90_000,
    );
    const seconds = (Date.now() - started) / 1_000;
    expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
    const { done, shares } = await waitFor('every job to complete', async () => {
      const counted = await sharesOf(workers);
      return counted.done === runCount ? counted : undefined;
    });
    expect(live(survivor)).toBe(true);
    expect(shares.reduce((sum, share) => sum + share, 0)).toBe(done);
    for (const share of shares) expect(share).toBeGreaterThan(0);
    const completed = await queue.getCompleted(0, -1);
    expect(completed.map((job) => job.returnvalue)).toEqual(runIds.map(() => ({ status: 'succeeded' })));
    // Runs the two stopped workers held were taken up again from their checkpoints by another worker.
    const takenOver = states.filter((state) => state.attempt > 1).length;
    expect(takenOver).toBeGreaterThan(0);
    console.log(
      `scale: ${runCount} runs over 3 workers (one SIGTERMed at ${stoppedAt} done, one SIGKILLed at ${killedAt} done): ` +
        `${workers.map((worker, index) => `${worker.name} ${shares[index]}`).join(', ')}; all succeeded; ` +
        `${takenOver} taken over from a checkpoint; ${seconds.toFixed(1)} s`,
    );
  });
});
