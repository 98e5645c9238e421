import { loadConfig } from '@plainloop/config';
import { RunRequest } from '@plainloop/contracts';
import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import {
  closeRedisClient,
  connectRedis,
  createKeySchema,
  createRunQueue,
  type PrivateRedisCluster,
  type RedisConnection,
  startPrivateRedisCluster,
} from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { defineTool } from '@plainloop/tools';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { bindModels } from './bind-models.ts';
import { defineAgent } from './define-agent.ts';
import { executeRun } from './execute-run.ts';
import { type RunEnvironment, runEnvironmentFromConfig } from './run-environment.ts';
import { runIdFor } from './run-identity.ts';
import { submitRun } from './submit-run.ts';

// On a Redis Cluster a failover can undo a write its master acknowledged. What must not be undone
// waits for a replica (`WAIT 1`): a non-idempotent call's "started" mark, and an accepted run. This
// file has a cluster of its own: its last tests kill every replica.
describe('waiting for a replica on a Redis Cluster', { timeout: 60_000 }, () => {
  let cluster: PrivateRedisCluster;
  let redis: RedisConnection;
  let environment: RunEnvironment;
  let queue: Queue;
  const logger = createLogger({ service: 'test', level: 'silent' });
  const keys = createKeySchema('replica-wait');
  const charges = { count: 0 };

  const charge = defineTool({
    name: 'charge',
    description: 'Charge a card (not idempotent)',
    input: z.object({}),
    run: () => {
      charges.count += 1;
      return 'charged';
    },
  });
  const model = scriptedModel({
    name: 'test',
    pricedAs: 'openai:gpt-4.1-mini',
    script: ({ turn }) =>
      turn === 0 ? { toolCalls: [{ name: 'charge', arguments: {} }] } : { text: 'done' },
  });
  const agents = new Map([
    [
      'payments',
      bindModels(
        defineAgent({
          name: 'payments',
          instructions: 'Pay.',
          input: z.object({ order: z.string() }),
          tools: [charge],
          models: { plan: [model], execute: [model] },
        }),
        createModelCatalog({ openai: {} }),
      ).bound,
    ],
  ]);

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    redis = await connectRedis(cluster.url, 'worker', 'replica-wait-test');
    // Replicas that are up get all the time a loaded 2-core machine may need to answer; the tests with
    // every replica down switch to a short wait (`waitShortly`), so that they do not wait long for nothing.
    environment = environmentWaiting(10_000);
    queue = createRunQueue(redis, keys);
  });
  afterAll(async () => {
    await queue?.close();
    if (redis) await closeRedisClient(redis);
    await cluster?.stop();
  });

  function environmentWaiting(replicaWaitMs: number): RunEnvironment {
    return runEnvironmentFromConfig(loadConfig({ PLAINLOOP_REPLICA_WAIT_MS: String(replicaWaitMs) }), {
      redis,
      keys,
      logger,
    });
  }

  async function payOnce(order: string) {
    charges.count = 0;
    const request = RunRequest.parse({ agent: 'payments', input: { order } });
    const runId = runIdFor(request);
    const outcome = await executeRun({
      environment,
      agents,
      job: { runId, request },
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    const toolTurns = (await environment.store.loadTurns('default', runId)).filter(
      (turn) => turn.role === 'tool',
    );
    return { runId, outcome, toolTurns, charged: charges.count };
  }

  it('runs a non-idempotent call once a replica has its started mark', async () => {
    const { outcome, toolTurns, charged } = await payOnce('order-1');
    expect(outcome.kind).toBe('finished');
    expect(charged).toBe(1);
    expect(toolTurns).toMatchObject([{ toolName: 'charge', isError: false, content: 'charged' }]);
  });

  it('accepts a run once replicas have it and its job, without a warning', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const request = RunRequest.parse({ agent: 'payments', input: { order: 'order-2' } });
    const submitted = await submitRun({ store: environment.store, queue, logger }, request, Date.now());
    expect(submitted.kind).toBe('created');
    expect(await environment.store.reachedReplicas(submitted.state, [queue.toKey('id')])).toBe(true);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  describe('with every replica down', () => {
    beforeAll(async () => {
      const masters = new Set((await cluster.masters()).map((node) => node.address));
      for (const node of cluster.nodes.filter((candidate) => !masters.has(candidate.address)))
        await cluster.crash(node);
      environment = environmentWaiting(300);
    });

    it('does not run a non-idempotent call whose started mark no replica acknowledged: replica_unavailable', async () => {
      const startedAt = Date.now();
      const { runId, outcome, toolTurns, charged } = await payOnce('order-3');
      expect(charged).toBe(0);
      expect(outcome.kind).toBe('finished');
      expect(toolTurns).toMatchObject([
        { toolName: 'charge', isError: true, content: expect.stringContaining('replica_unavailable') },
      ]);
      // The event the metrics count (plainloop_tool_errors_total, code replica_unavailable: an alert).
      const events = (await new RunEventStream(redis, keys).readRun('default', runId)).map(
        (entry) => entry.event,
      );
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'tool.failed',
          tool: 'charge',
          error: expect.objectContaining({ code: 'replica_unavailable' }),
        }),
      );
      // The wait is bounded by PLAINLOOP_REPLICA_WAIT_MS, not a hang.
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    });

    it('still accepts a run no replica acknowledged, and warns that a failover could lose it', async () => {
      const warn = vi.spyOn(logger, 'warn');
      const request = RunRequest.parse({ agent: 'payments', input: { order: 'order-4' } });
      const submitted = await submitRun({ store: environment.store, queue, logger }, request, Date.now());
      expect(submitted.kind).toBe('created');
      expect(await queue.getJobState(submitted.state.runId)).toBe('waiting');
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ runId: submitted.state.runId }),
        expect.stringContaining('before a replica acknowledged it'),
      );
      warn.mockRestore();
    });
  });
});
