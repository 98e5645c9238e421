import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, createKeySchema } from '@plainloop/redis';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  startRestartableRedis,
  uniquePrefix,
} from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Fleet, waitFor } from './test-fixtures/fleet-harness.ts';
import {
  checkLedgers,
  effectsIn,
  paymentHarness,
  startPaymentFleet,
  submitPayments,
  waitForAllEnded,
} from './test-fixtures/payment-runs.ts';

// A Redis of its own, killed and started again under load: one Redis only (a cluster's master is
// killed in cluster-failover.test.ts, where a replica takes over instead of a restart).
describe('a fleet through a Redis crash', { timeout: 180_000 }, () => {
  let model: FakeProviderServer;
  let fleet: Fleet | undefined;
  beforeEach(async () => {
    model = await startFakeOpenAIServer();
  });
  afterEach(async () => {
    await fleet?.stop();
    await model.close();
  });

  it('loses no run when Redis (AOF, fsync always) crashes and restarts mid-load', async () => {
    const redis = await startRestartableRedis();
    const prefix = uniquePrefix();
    const producer = await connectRedis(redis.url, 'worker');
    const harness = paymentHarness(producer, createKeySchema(prefix));
    try {
      let effectsDirectory: string;
      ({ fleet, effectsDirectory } = await startPaymentFleet({
        redisUrl: redis.url,
        prefix,
        model,
        queue: harness.queue,
        workers: ['worker-a', 'worker-b'],
        delayMs: 100,
      }));
      const runIds = await submitPayments(harness, 12);
      await waitFor('the load to be under way', async () => (model.requests.length >= 6 ? true : undefined));
      await redis.crash();
      const requestsWhileDown = model.requests.length;
      await sleep(1_500);
      await redis.start();

      const states = await waitForAllEnded(harness, runIds, 90_000);
      expect(states).toHaveLength(runIds.length);
      expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
      const executions = effectsIn(effectsDirectory);
      expect(Math.max(...executions)).toBe(1);
      const ledgered = await checkLedgers(harness, states);
      console.log(
        `Redis crash: ${runIds.length} runs succeeded across a Redis crash at ${requestsWhileDown} model requests; ` +
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
