import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookQueue, webhookEnqueuer, webhookJobOptions } from './webhook-queue.ts';

const retry = { attempts: 8, backoffMs: 2_000 };

describe('webhookEnqueuer', () => {
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await useTestRedis();
  });
  afterEach(() => redis.close());

  it('adds one job per run, under the run id, with the webhook backoff', async () => {
    const enqueuer = webhookEnqueuer(redis.client, redis.keys, retry);
    const queue = createWebhookQueue(redis.client, redis.keys);
    try {
      await enqueuer.enqueue({ tenantId: 'acme', runId: 'run_1' });
      await enqueuer.enqueue({ tenantId: 'acme', runId: 'run_1' });
      expect(await queue.getJobCounts('wait')).toEqual({ wait: 1 });
      const job = await queue.getJob('run_1');
      expect(job?.data).toEqual({ tenantId: 'acme', runId: 'run_1' });
      expect(job?.opts).toMatchObject({ attempts: 8, backoff: { type: 'webhook', delay: 2_000 } });
    } finally {
      await queue.close();
      await enqueuer.close();
    }
  });

  it('adds nothing for a run whose delivery has a record, so a job removed after a day is not sent again', async () => {
    const enqueuer = webhookEnqueuer(redis.client, redis.keys, retry);
    const queue = createWebhookQueue(redis.client, redis.keys);
    try {
      await redis.client.hset(redis.keys.run('acme', 'run_2').webhook, { status: 'delivered', attempts: 1 });
      await enqueuer.enqueue({ tenantId: 'acme', runId: 'run_2' });
      expect(await queue.getJobState('run_2')).toBe('unknown');
    } finally {
      await queue.close();
      await enqueuer.close();
    }
  });

  it('releases the queue it made on first use when closed, leaving the connection to its owner', async () => {
    const enqueuer = webhookEnqueuer(redis.client, redis.keys, retry);
    const before = redis.client.listenerCount('error');
    await enqueuer.enqueue({ tenantId: 'acme', runId: 'run_3' });
    expect(redis.client.listenerCount('error')).toBeGreaterThan(before);
    await enqueuer.close();
    expect(redis.client.listenerCount('error')).toBe(before);
    expect(await redis.client.ping()).toBe('PONG');
    // Closing an enqueuer that made no queue is a no-op.
    await webhookEnqueuer(redis.client, redis.keys, retry).close();
  });
});

describe('webhookJobOptions', () => {
  it('keeps a run’s job a day once delivered and a week once failed', () => {
    expect(webhookJobOptions('run_4', retry)).toEqual({
      jobId: 'run_4',
      attempts: 8,
      backoff: { type: 'webhook', delay: 2_000 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 604_800 },
    });
  });
});
