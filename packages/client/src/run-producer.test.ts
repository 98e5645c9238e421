import { createHash } from 'node:crypto';
import { runJob } from '@plainloop/contracts';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueueRun, RunProducer } from './run-producer.ts';

describe('enqueueing runs straight into BullMQ', () => {
  let redis: TestRedis;
  let connection: { host: string; port: number };
  let producer: RunProducer;
  let queue: Queue;

  beforeEach(async () => {
    redis = await useTestRedis();
    const url = new URL(redis.url);
    connection = { host: url.hostname, port: Number(url.port) };
    producer = new RunProducer({ connection, prefix: redis.prefix });
    // What a worker of the fleet reads: the run queue under the fleet's prefix, in braces.
    queue = new Queue('plainloop-runs', { connection, prefix: `{${redis.prefix}}` });
  });
  afterEach(async () => {
    await producer.close();
    await queue.close();
    await redis.close();
  });

  it('adds a job a worker takes: name run, id = run id, the fleet’s options, the request with its defaults', async () => {
    const { runId } = await producer.enqueue({
      agent: 'research',
      input: { topic: 'stalled jobs' },
      tenantId: 'acme',
      idempotencyKey: 'job-42',
    });
    // The id any language computes: run_ and 32 hex digits of SHA-256 over tenant, NUL, key.
    const digest = createHash('sha256').update('acme\u0000job-42').digest('hex');
    expect(runId).toBe(`run_${digest.slice(0, 32)}`);
    const job = await queue.getJob(runId);
    expect(job?.name).toBe('run');
    expect(job?.data).toEqual({
      runId,
      request: {
        agent: 'research',
        input: { topic: 'stalled jobs' },
        tenantId: 'acme',
        idempotencyKey: 'job-42',
      },
    });
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: runJob.options.backoff, jobId: runId });
  });

  it('adds nothing the second time for the same idempotency key', async () => {
    const request = { agent: 'research', input: { topic: 'a' }, idempotencyKey: 'once' };
    const first = await producer.enqueue(request);
    const second = await enqueueRun(queue, request);
    expect(second.runId).toBe(first.runId);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('refuses a request that does not fit RunRequest, and a queue no worker reads, before anything is queued', async () => {
    await expect(producer.enqueue({ agent: 'Not An Agent', input: {} })).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('agent: an agent name is 1-64 lower-case letters'),
    });
    const elsewhere = new Queue('runs', { connection, prefix: `{${redis.prefix}}` });
    await expect(enqueueRun(elsewhere, { agent: 'research', input: {} })).rejects.toMatchObject({
      code: 'wrong_queue',
    });
    await elsewhere.close();
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 0 });
  });
});
