import {
  closeRedisClient,
  connectRedis,
  createKeySchema,
  type PrivateRedisCluster,
  slotOf,
  startPrivateRedisCluster,
} from '@plainloop/redis';
import { type FakeProviderServer, startFakeOpenAIServer, uniquePrefix } from '@plainloop/testing';
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

// A cluster of its own, with a node timeout short enough for a test: a master of it is killed.
describe('a fleet on Redis Cluster through a master failover', { timeout: 180_000 }, () => {
  let cluster: PrivateRedisCluster;
  let model: FakeProviderServer;
  let fleet: Fleet | undefined;
  beforeEach(async () => {
    cluster = await startPrivateRedisCluster({ nodeTimeoutMs: 1_000 });
    model = await startFakeOpenAIServer();
  });
  afterEach(async () => {
    await fleet?.stop();
    await model.close();
    await cluster.stop();
  });

  it('finishes every run when the master of the queue is SIGKILLed under load; no payment happens twice', async () => {
    const prefix = uniquePrefix();
    const keys = createKeySchema(prefix);
    const producer = await connectRedis(cluster.url, 'worker', 'failover-test');
    const harness = paymentHarness(producer, keys);
    const { queue } = harness;
    try {
      let effectsDirectory: string;
      ({ fleet, effectsDirectory } = await startPaymentFleet({
        redisUrl: cluster.url,
        prefix,
        model,
        queue,
        workers: ['worker-a', 'worker-b'],
        delayMs: 100,
        // Locks that outlast a failover's few seconds: a worker waiting out the promotion keeps its runs.
        environment: { PLAINLOOP_LOCK_DURATION_MS: '5000', PLAINLOOP_STALLED_INTERVAL_MS: '2000' },
      }));
      const runIds = await submitPayments(harness, 16);
      await waitFor('the load to be under way', async () => (model.requests.length >= 8 ? true : undefined));

      // The master serving the run queue (BullMQ's keys) and a third of the run shards.
      const victim = await cluster.masterOf(slotOf(`${keys.queuePrefix}:x`));
      const requestsAtKill = model.requests.length;
      const killedAt = Date.now();
      await cluster.crash(victim);
      await cluster.waitUntilHealthy(30_000);
      const promotedInMs = Date.now() - killedAt;

      const states = await waitForAllEnded(harness, runIds, 120_000);
      expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
      const executions = effectsIn(effectsDirectory);
      expect(executions.length).toBeGreaterThan(0);
      expect(Math.max(...executions)).toBe(1);
      // Each step makes one model call, ledgered with its checkpoint: requests beyond the ledgered calls
      // are steps (or attempts) done again after a failover undid their checkpoint. No call is counted twice.
      const ledgered = await checkLedgers(harness, states);
      console.log(
        `failover: ${runIds.length} runs succeeded across a master SIGKILLed at ${requestsAtKill} model requests ` +
          `(replica promoted, cluster ok, in ${promotedInMs} ms); ${model.requests.length} requests for ${ledgered} ledgered calls: ` +
          `${model.requests.length - ledgered} steps done again; ${executions.length} payments, none twice`,
      );
    } finally {
      await queue.close().catch(() => undefined);
      await closeRedisClient(producer);
    }
  });
});
