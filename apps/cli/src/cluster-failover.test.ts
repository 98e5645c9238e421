import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import {
  closeRedisClient,
  connectRedis,
  createKeySchema,
  createRunQueue,
  type PrivateRedisCluster,
  RunStore,
  slotOf,
  startPrivateRedisCluster,
} from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type FakeProviderServer, startFakeOpenAIServer, uniquePrefix } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chaosModel } from './test-fixtures/chaos-model.ts';
import { type Fleet, startFleet, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/chaos-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'failover', level: 'silent' });
const ended = ['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations'];

/** Executions per payment's idempotency key, as the tool itself recorded them (outside Redis). */
function effectsIn(directory: string): number[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).map(
    (name) => readFileSync(join(directory, name), 'utf8').trim().split('\n').length,
  );
}

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
    const queue = createRunQueue(producer, keys);
    const store = new RunStore(producer, keys);
    try {
      fleet = await startFleet({
        redisUrl: cluster.url,
        prefix,
        agentsPath,
        environment: {
          OPENAI_API_KEY: 'sk-test',
          OPENAI_BASE_URL: model.baseUrl,
          PLAINLOOP_MAX_STALLED_COUNT: '50',
          PLAINLOOP_LOCK_DURATION_MS: '5000',
          PLAINLOOP_STALLED_INTERVAL_MS: '2000',
        },
      });
      const effectsDirectory = join(fleet.directory, 'effects');
      model.respondWith(
        chaosModel({ effectsDirectory, markerDirectory: join(fleet.directory, 'markers'), delayMs: 100 }),
      );
      fleet.startWorker('worker-a');
      fleet.startWorker('worker-b');
      await waitFor('the workers', async () => ((await queue.getWorkersCount()) >= 2 ? true : undefined));
      const runIds: string[] = [];
      for (let index = 0; index < 16; index += 1) {
        const request = RunRequest.parse({ agent: 'payments', input: { task: `payment ${index}` } });
        runIds.push((await submitRun({ store, queue, logger }, request, Date.now())).state.runId);
      }
      await waitFor('the load to be under way', async () => (model.requests.length >= 8 ? true : undefined));

      // The master serving the run queue (BullMQ's keys) and a third of the run shards.
      const victim = await cluster.masterOf(slotOf(`${keys.queuePrefix}:x`));
      const requestsAtKill = model.requests.length;
      const killedAt = Date.now();
      await cluster.crash(victim);
      await cluster.waitUntilHealthy(30_000);
      const promotedInMs = Date.now() - killedAt;

      const states = await waitFor(
        'every run to finish',
        async () => {
          const all = (await Promise.all(runIds.map((runId) => store.load('default', runId)))).filter(
            (state): state is RunState => state !== undefined,
          );
          return all.filter((state) => ended.includes(state.status)).length === runIds.length
            ? all
            : undefined;
        },
        120_000,
      );
      expect(states.map((state) => state.status)).toEqual(runIds.map(() => 'succeeded'));
      const executions = effectsIn(effectsDirectory);
      expect(executions.length).toBeGreaterThan(0);
      expect(Math.max(...executions)).toBe(1);
      // Each step makes one model call, ledgered with its checkpoint: requests beyond the ledgered calls
      // are steps (or attempts) done again after a failover undid their checkpoint.
      const ledgered = states.reduce((sum, state) => sum + state.llmCalls, 0);
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
