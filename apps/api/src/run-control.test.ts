import {
  bindModels,
  defineAgent,
  defineTool,
  executeRun,
  manifestOf,
  runEnvironmentFromConfig,
} from '@plainloop/agent';
import { loadConfig, type PlainloopConfig } from '@plainloop/config';
import { RunJobData } from '@plainloop/contracts';
import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import { createRunQueue } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildApi } from './build-api.ts';

const refund = defineTool({
  name: 'refund',
  description: 'Refund an order',
  input: z.object({ orderId: z.string() }),
  requiresApproval: true,
  run: ({ orderId }) => ({ refunded: orderId }),
});
const model = scriptedModel({
  name: 'support',
  script: ({ turn }) =>
    turn === 0 ? { toolCalls: [{ name: 'refund', arguments: { orderId: 'order-42' } }] } : { text: 'done' },
});
const support = defineAgent({
  name: 'support',
  instructions: 'Refund when asked.',
  input: z.object({ message: z.string() }),
  tools: [refund],
  models: { plan: [model], execute: [model] },
});
const logger = createLogger({ service: 'api-test', level: 'silent' });

describe('approving and denying tool calls over HTTP', () => {
  let redis: TestRedis;
  let app: FastifyInstance;
  let config: PlainloopConfig;

  beforeEach(async () => {
    redis = await useTestRedis('producer');
    config = loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix });
    const { bound } = bindModels(support, createModelCatalog({}));
    await redis.client.hset(redis.keys.agents, 'support', JSON.stringify(manifestOf(bound, Date.now())));
    app = await buildApi({ config, redis: redis.client, logger, authentication: { insecure: true } });
  });
  afterEach(async () => {
    await app.close();
    await redis.close();
  });

  /** A run parked on its approval, as a worker leaves it. */
  async function parkedRun(): Promise<{ runId: string; callId: string }> {
    const { runId } = (
      await app.inject({
        method: 'POST',
        url: '/v1/runs',
        payload: { agent: 'support', input: { message: 'refund 42' } },
      })
    ).json();
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    const job = await queue.getJob(runId);
    const worker = redis.connect('worker');
    const outcome = await executeRun({
      environment: runEnvironmentFromConfig(config, { redis: worker, keys: redis.keys, logger }),
      agents: new Map([['support', bindModels(support, createModelCatalog({})).bound]]),
      job: RunJobData.parse(job?.data),
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    await queue.close();
    if (outcome.kind !== 'waiting') throw new Error(`expected a waiting run, got ${outcome.kind}`);
    return { runId, callId: outcome.state.pending?.result.toolCalls[0]?.id ?? '' };
  }

  it('shows the call awaiting a decision, records an approval once, and refuses a second', async () => {
    const { runId, callId } = await parkedRun();
    const read = (await app.inject({ method: 'GET', url: `/v1/runs/${runId}` })).json();
    expect(read).toMatchObject({
      status: 'waiting',
      approvals: [{ callId, tool: 'refund', arguments: { orderId: 'order-42' }, decision: 'pending' }],
    });
    const url = `/v1/runs/${runId}/approvals/${callId}`;
    const approved = await app.inject({
      method: 'POST',
      url,
      payload: { approved: true, comment: 'ok by support lead' },
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toEqual({ runId, callId, decision: 'approved' });
    const after = (await app.inject({ method: 'GET', url: `/v1/runs/${runId}` })).json();
    expect(after.approvals).toMatchObject([{ callId, decision: 'approved', comment: 'ok by support lead' }]);
    const again = await app.inject({ method: 'POST', url, payload: { approved: false } });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ title: 'not_awaiting_approval' });
  });

  it('answers bad decisions and unknown runs or calls with problems', async () => {
    const { runId } = await parkedRun();
    const badBody = await app.inject({
      method: 'POST',
      url: `/v1/runs/${runId}/approvals/x`,
      payload: { approved: 'yes' },
    });
    expect(badBody.statusCode).toBe(400);
    const unknownCall = await app.inject({
      method: 'POST',
      url: `/v1/runs/${runId}/approvals/nope`,
      payload: { approved: true },
    });
    expect(unknownCall.statusCode).toBe(409);
    const unknownRun = await app.inject({
      method: 'POST',
      url: '/v1/runs/run_0000000000000000/approvals/x',
      payload: { approved: true },
    });
    expect(unknownRun.statusCode).toBe(404);
  });

  it('takes the same decision at /approve, with the call id in the body', async () => {
    const { runId, callId } = await parkedRun();
    const url = `/v1/runs/${runId}/approve`;
    const missingCall = await app.inject({ method: 'POST', url, payload: { approved: false } });
    expect(missingCall.statusCode).toBe(400);
    const denied = await app.inject({
      method: 'POST',
      url,
      payload: { callId, approved: false, comment: 'no' },
    });
    expect(denied.statusCode).toBe(200);
    expect(denied.json()).toEqual({ runId, callId, decision: 'denied' });
    const read = (await app.inject({ method: 'GET', url: `/v1/runs/${runId}` })).json();
    expect(read.approvals).toMatchObject([{ callId, decision: 'denied', comment: 'no' }]);
    const again = await app.inject({ method: 'POST', url, payload: { callId, approved: true } });
    expect(again.statusCode).toBe(409);
  });
});
