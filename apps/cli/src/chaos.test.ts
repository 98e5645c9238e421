import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitOf, type Fleet } from './test-fixtures/fleet-harness.ts';
import {
  checkLedgers,
  effectsIn,
  finished,
  loadAll,
  type PaymentHarness,
  paymentHarness,
  startPaymentFleet,
  submitPayments,
  waitForAllEnded,
} from './test-fixtures/payment-runs.ts';

// The chaos suite: real worker processes, a real Redis (or cluster), faults on purpose; bounded, and it
// prints its counts. Redis itself crashing is redis-crash.test.ts; a cluster's master, cluster-failover.test.ts.
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
    let harness: PaymentHarness;
    beforeEach(async () => {
      redis = await useTestRedis();
      harness = paymentHarness(redis.connect(), redis.keys);
    });
    afterEach(async () => {
      await harness.queue.close();
      await redis.close();
    });

    it('finishes every run while workers are SIGKILLed again and again; no payment happens twice', async () => {
      let effectsDirectory: string;
      ({ fleet, effectsDirectory } = await startPaymentFleet({
        redisUrl: redis.url,
        prefix: redis.prefix,
        model,
        queue: harness.queue,
        workers: ['worker-a', 'worker-b', 'worker-c'],
        delayMs: 150,
      }));
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
      const states = await waitForAllEnded(harness, runIds, 90_000);

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
});
