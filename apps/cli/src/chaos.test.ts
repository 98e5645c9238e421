import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import {
  connectRedis,
  createKeySchema,
  createRunQueue,
  type RedisConnection,
  RunStore,
} from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  startRestartableRedis,
  type TestRedis,
  uniquePrefix,
  useTestRedis,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chaosModel } from './test-fixtures/chaos-model.ts';
import { exitOf, type Fleet, startFleet, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/chaos-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'chaos', level: 'silent' });

type Harness = { redisUrl: string; prefix: string; producer: RedisConnection; queue: Queue; store: RunStore };

async function submitPayments(harness: Harness, count: number): Promise<string[]> {
  const runIds: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const request = RunRequest.parse({ agent: 'payments', input: { task: `payment ${index}` } });
    const submitted = await submitRun(
      { store: harness.store, queue: harness.queue, logger },
      request,
      Date.now(),
    );
    runIds.push(submitted.state.runId);
  }
  return runIds;
}

async function loadAll(harness: Harness, runIds: string[]): Promise<RunState[]> {
  return (await Promise.all(runIds.map((runId) => harness.store.load('default', runId)))).filter(
    (state): state is RunState => state !== undefined,
  );
}

const finished = (states: RunState[]) =>
  states.filter((state) =>
    ['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations'].includes(state.status),
  );

/** What the payment side effects tell: executions per idempotency key. */
function effectsIn(directory: string): number[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).map(
    (name) => readFileSync(join(directory, name), 'utf8').trim().split('\n').length,
  );
}

/** Every run's ledger against its totals: one entry per distinct model call, costs that add up. */
async function checkLedgers(harness: Harness, states: RunState[]): Promise<number> {
  let entries = 0;
  for (const state of states) {
    const calls = await harness.store.loadModelCalls('default', state.runId);
    expect(new Set(calls.map((call) => call.callId)).size).toBe(calls.length);
    expect(calls).toHaveLength(state.llmCalls);
    expect(calls.reduce((sum, call) => sum + call.costUsd, 0)).toBeCloseTo(state.costUsd, 12);
    entries += calls.length;
  }
  return entries;
}

// The chaos suite: real worker processes, a real Redis, faults on purpose; bounded, and it prints its counts.
describe('chaos', { timeout: 180_000 }, () => {
  let model: FakeProviderServer;
  let fleet: Fleet;
  beforeEach(async () => {
    model = await startFakeOpenAIServer();
  });
  afterEach(async () => {
    await fleet?.stop();
    await model.close();
  });

  describe('on the shared test Redis', () => {
    let redis: TestRedis;
    let harness: Harness;
    beforeEach(async () => {
      redis = await useTestRedis();
      const producer = redis.connect();
      harness = {
        redisUrl: redis.url,
        prefix: redis.prefix,
        producer,
        queue: createRunQueue(producer, redis.keys),
        store: new RunStore(producer, redis.keys),
      };
    });
    afterEach(async () => {
      await harness.queue.close();
      await redis.close();
    });

    it('finishes every run while workers are SIGKILLed again and again; no payment happens twice', async () => {
      fleet = await startFleet({
        redisUrl: redis.url,
        prefix: redis.prefix,
        agentsPath,
        environment: {
          OPENAI_API_KEY: 'sk-test',
          OPENAI_BASE_URL: model.baseUrl,
          PLAINLOOP_MAX_STALLED_COUNT: '50',
        },
      });
      const effectsDirectory = join(fleet.directory, 'effects');
      model.respondWith(
        chaosModel({ effectsDirectory, markerDirectory: join(fleet.directory, 'markers'), delayMs: 150 }),
      );
      for (const name of ['worker-a', 'worker-b', 'worker-c']) fleet.startWorker(name);
      await waitFor('the workers', async () =>
        (await harness.queue.getWorkersCount()) >= 3 ? true : undefined,
      );
      const runIds = await submitPayments(harness, 24);

      // Three kills aimed at a payment in progress (its worker is killed the moment the payment starts,
      // before its result can be saved), then kills at random.
      let kills = 0;
      let aimed = 0;
      let generation = 0;
      const paymentsSeen = new Set<string>();
      const replace = async (victim: (typeof fleet.workers)[number]) => {
        victim.child.kill('SIGKILL');
        await exitOf(victim);
        kills += 1;
        generation += 1;
        fleet.startWorker(`worker-${generation}`);
      };
      const deadline = Date.now() + 60_000;
      let nextRandomKill = Date.now() + 1_200;
      while (Date.now() < deadline && finished(await loadAll(harness, runIds)).length < runIds.length) {
        await sleep(50);
        for (const name of existsSync(effectsDirectory) ? readdirSync(effectsDirectory) : []) {
          if (paymentsSeen.has(name)) continue;
          paymentsSeen.add(name);
          const pid = Number(readFileSync(join(effectsDirectory, name), 'utf8').trim().split('\n')[0]);
          const payer = fleet.workers.find(
            (worker) => worker.child.pid === pid && worker.child.exitCode === null,
          );
          if (payer && aimed < 3) {
            aimed += 1;
            await replace(payer);
          }
        }
        if (Date.now() >= nextRandomKill && kills < 8) {
          nextRandomKill = Date.now() + 1_200;
          const live = fleet.workers.filter(
            (worker) => worker.child.exitCode === null && worker.child.signalCode === null,
          );
          const victim = live[Math.floor(Math.random() * live.length)];
          if (victim) await replace(victim);
        }
      }
      const states = await waitFor(
        'every run to finish',
        async () => {
          const all = await loadAll(harness, runIds);
          return finished(all).length === runIds.length ? all : undefined;
        },
        90_000,
      );

      expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
      const executions = effectsIn(effectsDirectory);
      expect(aimed).toBe(3);
      expect(Math.max(...executions)).toBe(1);
      const ledgered = await checkLedgers(harness, states);
      const unknown = (
        await Promise.all(states.map((state) => harness.store.loadTurns('default', state.runId)))
      )
        .flat()
        .filter((turn) => turn.role === 'tool' && turn.content.includes('tool_outcome_unknown')).length;
      // The aimed kills cut payments off mid-run: those are reported as unknown, never run again.
      expect(unknown).toBeGreaterThanOrEqual(1);
      console.log(
        `chaos, kills: ${runIds.length} runs succeeded through ${kills} SIGKILLs (${aimed} mid-payment); ${model.requests.length} model requests, ` +
          `${ledgered} ledgered calls; ${executions.length} payments, none twice; ${unknown} reported as outcome unknown`,
      );
    });
  });

  it('loses no run when Redis (AOF, fsync always) crashes and restarts mid-load', async () => {
    const redis = await startRestartableRedis();
    const prefix = uniquePrefix();
    const producer = await connectRedis(redis.url, 'worker');
    const keys = createKeySchema(prefix);
    const harness: Harness = {
      redisUrl: redis.url,
      prefix,
      producer,
      queue: createRunQueue(producer, keys),
      store: new RunStore(producer, keys),
    };
    try {
      fleet = await startFleet({
        redisUrl: redis.url,
        prefix,
        agentsPath,
        environment: {
          OPENAI_API_KEY: 'sk-test',
          OPENAI_BASE_URL: model.baseUrl,
          PLAINLOOP_MAX_STALLED_COUNT: '50',
        },
      });
      const effectsDirectory = join(fleet.directory, 'effects');
      model.respondWith(
        chaosModel({ effectsDirectory, markerDirectory: join(fleet.directory, 'markers'), delayMs: 100 }),
      );
      fleet.startWorker('worker-a');
      fleet.startWorker('worker-b');
      await waitFor('the workers', async () =>
        (await harness.queue.getWorkersCount()) >= 2 ? true : undefined,
      );
      const runIds = await submitPayments(harness, 12);
      await waitFor('the load to be under way', async () => (model.requests.length >= 6 ? true : undefined));
      await redis.crash();
      const requestsWhileDown = model.requests.length;
      await sleep(1_500);
      await redis.start();

      const states = await waitFor(
        'every run to finish',
        async () => {
          const all = await loadAll(harness, runIds);
          return finished(all).length === runIds.length ? all : undefined;
        },
        90_000,
      );
      expect(states).toHaveLength(runIds.length);
      expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
      const executions = effectsIn(effectsDirectory);
      expect(Math.max(...executions)).toBe(1);
      const ledgered = await checkLedgers(harness, states);
      console.log(
        `chaos, Redis restart: ${runIds.length} runs succeeded across a Redis crash at ${requestsWhileDown} model requests; ` +
          `${model.requests.length} requests in all, ${ledgered} ledgered calls, ${executions.length} payments, none twice`,
      );
    } finally {
      await fleet?.stop();
      await harness.queue.close().catch(() => undefined);
      producer.disconnect();
      await redis.stop();
    }
  });
});
