import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  cancelRun,
  defineAgent,
  newRunState,
  runEnvironmentFromConfig,
  runIdFor,
  submitRun,
} from '@plainloop/agent';
import { loadConfig, type PlainloopConfig } from '@plainloop/config';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { scriptedModel } from '@plainloop/llm';
import {
  createRunQueue,
  createWebhookQueue,
  queueNames,
  type RedisConnection,
  RunStore,
  runJobOptions,
} from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { readWebhookDelivery, WebhookPayload } from '@plainloop/webhooks';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type RunningWorker, startWorker } from './start-worker.ts';

const model = scriptedModel({ name: 'greeter', script: ({ input }) => ({ text: `hello ${String(input)}` }) });
const greeter = defineAgent({
  name: 'greeter',
  instructions: 'Greet.',
  input: z.string(),
  models: { plan: [model], execute: [model] },
});
const logger = createLogger({ service: 'worker-webhooks-test', level: 'silent' });

type Delivery = { headers: IncomingHttpHeaders; body: string };

/**
 * Makes the next `count` additions to the webhook queue fail, in every part of the test (worker and
 * API alike), as when Redis refuses a write; other queues are untouched. Counts the additions tried.
 */
function failWebhookEnqueues(count: number): { tried: number } {
  const add = Queue.prototype.add;
  const webhookAdds = { tried: 0 };
  let failures = count;
  vi.spyOn(Queue.prototype, 'add').mockImplementation(function (this: Queue, ...args) {
    if (this.name !== queueNames.webhooks) return add.apply(this, args);
    webhookAdds.tried += 1;
    if (failures === 0) return add.apply(this, args);
    failures -= 1;
    return Promise.reject(new Error('the webhook queue is unreachable'));
  });
  return webhookAdds;
}

/** A webhook receiver on 127.0.0.1 that takes every delivery. */
async function startReceiver() {
  const deliveries: Delivery[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    deliveries,
    /** The deliveries of one run, by the Standard Webhooks id (the run id). */
    of: (runId: string) => deliveries.filter((each) => each.headers['webhook-id'] === runId),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('run webhooks through a real worker', () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let runQueue: Queue;
  let webhookQueue: Queue;
  let store: RunStore;
  let config: PlainloopConfig;
  let worker: RunningWorker;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect();
    runQueue = createRunQueue(producer, redis.keys);
    webhookQueue = createWebhookQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    receiver = await startReceiver();
    config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      // The receiver is on this machine.
      PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: 'true',
      PLAINLOOP_WEBHOOK_BACKOFF_MS: '50',
    });
    worker = await startWorker({ config, redisUrl: redis.url, agents: [greeter], logger });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await worker.close();
    await runQueue.close();
    await webhookQueue.close();
    await receiver.close();
    await redis.close();
  });

  async function deliveredOnce(runId: string): Promise<Delivery> {
    await expect.poll(() => webhookQueue.getJobState(runId), { timeout: 10_000 }).toBe('completed');
    // Anything sent twice would have arrived by now: the queue's job completed with the first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const deliveries = receiver.of(runId);
    expect(deliveries).toHaveLength(1);
    expect(await readWebhookDelivery(producer, redis.keys, 'default', runId)).toMatchObject({
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 204,
    });
    return deliveries[0] as Delivery;
  }

  it('posts the result of a run that ends to its webhook, once', async () => {
    const request = RunRequest.parse({ agent: 'greeter', input: 'ada', webhook: { url: receiver.url } });
    const { state } = await submitRun({ store, queue: runQueue, logger }, request, Date.now());
    const delivery = await deliveredOnce(state.runId);
    const payload = WebhookPayload.parse(JSON.parse(delivery.body));
    const stored = (await store.load('default', state.runId)) as RunState;
    expect(payload).toEqual({
      type: 'run.finished',
      runId: state.runId,
      tenantId: 'default',
      agent: 'greeter',
      status: 'succeeded',
      output: 'hello ada',
      usage: stored.usage,
      costUsd: stored.costUsd,
      steps: 1,
      createdAt: new Date(stored.createdAt).toISOString(),
      finishedAt: new Date(stored.finishedAt ?? 0).toISOString(),
    });
  });

  it('posts once for a run cancelled while it was queued', async () => {
    // No worker takes the run while the run queue is paused: it stays queued until the cancel ends it.
    await runQueue.pause();
    const request = RunRequest.parse({ agent: 'greeter', input: 'bob', webhook: { url: receiver.url } });
    const { state } = await submitRun({ store, queue: runQueue, logger }, request, Date.now());
    // The API's side of the cancel: its own environment, built from the same config.
    const api = redis.connect();
    const environment = runEnvironmentFromConfig(config, { redis: api, keys: redis.keys, logger });
    const outcome = await cancelRun(
      { environment, queue: runQueue, redis: api, keys: redis.keys },
      'default',
      state.runId,
      'the customer left',
    );
    await environment.close?.();
    expect(outcome.kind).toBe('cancelled');
    await runQueue.resume();

    const delivery = await deliveredOnce(state.runId);
    expect(WebhookPayload.parse(JSON.parse(delivery.body))).toMatchObject({
      status: 'cancelled',
      error: { code: 'cancelled', message: 'the customer left' },
      steps: 0,
    });
  });

  it('queues the webhook a crash kept from being queued when the run job runs again', async () => {
    // The worker died between the terminal checkpoint and the enqueue: the run has ended, no webhook job.
    const request = RunRequest.parse({ agent: 'greeter', input: 'eve', webhook: { url: receiver.url } });
    const runId = runIdFor(request);
    const now = Date.now();
    await store.create({
      ...newRunState(runId, request, now),
      status: 'succeeded',
      output: 'hello eve',
      finishedAt: now,
    });
    expect(await webhookQueue.getJobState(runId)).toBe('unknown');
    // BullMQ gives the job that stalled to the next worker.
    await runQueue.add('run', { runId, request }, { ...runJobOptions, jobId: runId });
    await expect.poll(() => runQueue.getJobState(runId), { timeout: 10_000 }).toBe('completed');
    const delivery = await deliveredOnce(runId);
    expect(WebhookPayload.parse(JSON.parse(delivery.body))).toMatchObject({
      status: 'succeeded',
      output: 'hello eve',
    });
  });

  it('retries the run job whose webhook could not be queued, and the webhook arrives from the retry', async () => {
    const webhookAdds = failWebhookEnqueues(1);
    const request = RunRequest.parse({ agent: 'greeter', input: 'kim', webhook: { url: receiver.url } });
    const { state } = await submitRun({ store, queue: runQueue, logger }, request, Date.now());
    const delivery = await deliveredOnce(state.runId);
    expect(WebhookPayload.parse(JSON.parse(delivery.body))).toMatchObject({
      status: 'succeeded',
      output: 'hello kim',
    });
    // The first attempt ended the run and failed on the enqueue; the second only queued the webhook.
    expect(webhookAdds.tried).toBe(2);
    const job = await runQueue.getJob(state.runId);
    expect(job?.attemptsMade).toBe(2);
    expect(job?.failedReason).toBe('the webhook queue is unreachable');
    expect(await job?.getState()).toBe('completed');
    expect(await store.load('default', state.runId)).toMatchObject({ status: 'succeeded', attempt: 1 });
    const events = await new RunEventStream(producer, redis.keys).readRun('default', state.runId);
    expect(events.filter(({ event }) => event.type === 'run.finished')).toHaveLength(1);
  });

  it('queues the webhook of an ended run when BullMQ gives up on its job', async () => {
    // The run has ended; the last attempt of its job cannot queue the webhook, and fails for good.
    failWebhookEnqueues(1);
    const request = RunRequest.parse({ agent: 'greeter', input: 'lou', webhook: { url: receiver.url } });
    const runId = runIdFor(request);
    const now = Date.now();
    await store.create({
      ...newRunState(runId, request, now),
      status: 'succeeded',
      output: 'hello lou',
      finishedAt: now,
    });
    await runQueue.add('run', { runId, request }, { ...runJobOptions, attempts: 1, jobId: runId });
    await expect.poll(() => runQueue.getJobState(runId), { timeout: 10_000 }).toBe('failed');
    const delivery = await deliveredOnce(runId);
    expect(WebhookPayload.parse(JSON.parse(delivery.body))).toMatchObject({ status: 'succeeded' });
    // The run that had ended stays as it ended: no internal_error over a webhook.
    expect(await store.load('default', runId)).toMatchObject({ status: 'succeeded', output: 'hello lou' });
  });

  it('keeps the job of a run cancelled while queued when its webhook could not be queued, and a retried cancel queues it', async () => {
    await runQueue.pause();
    const request = RunRequest.parse({ agent: 'greeter', input: 'max', webhook: { url: receiver.url } });
    const { state } = await submitRun({ store, queue: runQueue, logger }, request, Date.now());
    const api = redis.connect();
    const environment = runEnvironmentFromConfig(config, { redis: api, keys: redis.keys, logger });
    const dependencies = { environment, queue: runQueue, redis: api, keys: redis.keys };
    try {
      failWebhookEnqueues(1);
      await expect(cancelRun(dependencies, 'default', state.runId, 'changed my mind')).rejects.toThrow(
        'the webhook queue is unreachable',
      );
      expect(await store.load('default', state.runId)).toMatchObject({ status: 'cancelled' });
      // The job stays: when a worker takes it, it finds the run ended and queues the webhook.
      expect(await runQueue.getJobState(state.runId)).not.toBe('unknown');
      expect(await webhookQueue.getJobState(state.runId)).toBe('unknown');

      // The producer retries its cancel (the API answered an error): the run has ended, its webhook is queued.
      const retried = await cancelRun(dependencies, 'default', state.runId, 'changed my mind');
      expect(retried.kind).toBe('already_finished');
      const delivery = await deliveredOnce(state.runId);
      expect(WebhookPayload.parse(JSON.parse(delivery.body))).toMatchObject({
        status: 'cancelled',
        error: { code: 'cancelled', message: 'changed my mind' },
      });
      // The job left behind runs to nothing: the webhook is queued once, and sent once.
      await runQueue.resume();
      await expect.poll(() => runQueue.getJobState(state.runId), { timeout: 10_000 }).toBe('completed');
      await deliveredOnce(state.runId);
    } finally {
      await environment.close?.();
    }
  });
});
