import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  bindModels,
  cancelRun,
  defineAgent,
  executeRun,
  newRunState,
  runEnvironmentFromConfig,
  runIdFor,
  submitRun,
} from '@plainloop/agent';
import { loadConfig, type PlainloopConfig } from '@plainloop/config';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import { createRunQueue, createWebhookQueue, type Redis, RunStore, runJobOptions } from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { readWebhookDelivery, WebhookPayload } from '@plainloop/webhooks';
import type { Queue } from 'bullmq';
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
  let producer: Redis;
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
    const { state } = await submitRun(
      { store, queue: runQueue, events: new RunEventStream(producer, redis.keys), logger },
      request,
      Date.now(),
    );
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
    const { state } = await submitRun(
      { store, queue: runQueue, events: new RunEventStream(producer, redis.keys), logger },
      request,
      Date.now(),
    );
    // The API's side of the cancel: its own environment, built from the same config.
    const api = redis.connect();
    const outcome = await cancelRun(
      {
        environment: runEnvironmentFromConfig(config, { redis: api, keys: redis.keys, logger }),
        queue: runQueue,
        redis: api,
        keys: redis.keys,
      },
      'default',
      state.runId,
      'the customer left',
    );
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

  it('ends the run all the same when its webhook cannot be queued, and says so in the log', async () => {
    const failing = createLogger({ service: 'worker-webhooks-test', level: 'silent' });
    const logged = vi.spyOn(failing, 'error');
    const environment = {
      ...runEnvironmentFromConfig(config, { redis: redis.client, keys: redis.keys, logger: failing }),
      enqueueWebhook: vi.fn(async () => {
        throw new Error('the queue is unreachable');
      }),
    };
    const request = RunRequest.parse({ agent: 'greeter', input: 'kim', webhook: { url: receiver.url } });
    const runId = runIdFor(request);
    const { bound } = bindModels(greeter, createModelCatalog({}));
    const outcome = await executeRun({
      environment,
      agents: new Map([['greeter', bound]]),
      job: { runId, request },
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    expect(outcome).toMatchObject({ kind: 'finished', state: { status: 'succeeded', output: 'hello kim' } });
    expect(environment.enqueueWebhook).toHaveBeenCalledWith({ tenantId: 'default', runId });
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ runId }),
      'could not queue the webhook of an ended run: its result is not delivered (the API still has it)',
    );
    expect(receiver.of(runId)).toHaveLength(0);
  });
});
