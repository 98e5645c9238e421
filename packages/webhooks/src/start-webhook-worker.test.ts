import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@plainloop/config';
import { RunState } from '@plainloop/contracts';
import { createWebhookQueue, RunStore, type WebhookEnqueuer, webhookEnqueuer } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import type { Queue, Worker } from 'bullmq';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResolvedAddress } from './resolve-webhook-target.ts';
import { type StartWebhookWorkerOptions, startWebhookWorker } from './start-webhook-worker.ts';
import { webhookSecretOf } from './tenant-webhook-secret.ts';
import { readWebhookDelivery } from './webhook-delivery.ts';
import { WebhookPayload } from './webhook-payload.ts';

const logger = createLogger({ service: 'webhooks-test', level: 'silent' });
/** The deployment's secret; deliveries are signed with each tenant's secret derived from it. */
const secret = `whsec_${randomBytes(32).toString('base64')}`;
/** What the receivers of tenant acme, the tenant of every run here, verify with. */
const acmeSecret = webhookSecretOf(secret, 'acme');

type Delivery = { path: string; headers: IncomingHttpHeaders; body: string; at: number };
/** What the receiver does with its n-th request (0-based): answer with a status, or never answer. */
type Answer = (index: number) => number | 'hang';

/** A webhook receiver on 127.0.0.1: the only place any test here sends traffic to. */
async function startReceiver(answer: Answer) {
  const deliveries: Delivery[] = [];
  let connections = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const index = deliveries.length;
      deliveries.push({
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const status = answer(index);
      if (status === 'hang') return;
      // A redirect points back at this receiver: following it would show as a second request.
      response.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      response.end('{}');
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks/plainloop`,
    deliveries,
    connections: () => connections,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function endedRun(runId: string, webhookUrl: string | undefined): RunState {
  return RunState.parse({
    runId,
    tenantId: 'acme',
    agent: 'support',
    input: { message: 'where is my order?' },
    ...(webhookUrl === undefined ? {} : { webhook: { url: webhookUrl } }),
    requestHash: 'hash',
    version: 3,
    status: 'succeeded',
    step: 2,
    pending: null,
    usage: { inputTokens: 120, cachedInputTokens: 0, outputTokens: 30, reasoningTokens: 0 },
    costUsd: 0.0021,
    llmCalls: 2,
    toolCalls: 1,
    attempt: 1,
    output: { reply: 'It shipped yesterday.' },
    createdAt: Date.parse('2026-11-29T10:00:00.000Z'),
    updatedAt: Date.parse('2026-11-29T10:00:04.500Z'),
    startedAt: Date.parse('2026-11-29T10:00:00.100Z'),
    finishedAt: Date.parse('2026-11-29T10:00:04.500Z'),
  });
}

describe('the webhook worker', () => {
  let redis: TestRedis;
  let store: RunStore;
  let queue: Queue;
  let worker: Worker | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let enqueuer: WebhookEnqueuer | undefined;

  beforeEach(async () => {
    redis = await useTestRedis();
    store = new RunStore(redis.client, redis.keys);
    queue = createWebhookQueue(redis.client, redis.keys);
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await enqueuer?.close();
    enqueuer = undefined;
    await receiver?.close();
    receiver = undefined;
    await queue.close();
    await redis.close();
  });

  /** Starts the worker as the worker process does, from environment variables. */
  async function start(
    environment: Record<string, string>,
    overrides: Partial<StartWebhookWorkerOptions> = {},
  ) {
    const config = loadConfig({
      PLAINLOOP_WEBHOOK_SECRET: secret,
      PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: 'true',
      PLAINLOOP_WEBHOOK_BACKOFF_MS: '150',
      PLAINLOOP_WEBHOOK_ATTEMPTS: '3',
      ...environment,
    });
    worker = await startWebhookWorker({
      redis: redis.connect(),
      keys: redis.keys,
      logger,
      settings: {
        secret: config.webhooks.secret ?? '',
        allowPrivateTargets: config.webhooks.allowPrivateTargets,
        timeoutMs: config.webhooks.timeoutMs,
        retentionSeconds: config.runs.retentionSeconds,
      },
      concurrency: config.webhooks.concurrency,
      ...overrides,
    });
    enqueuer = webhookEnqueuer(redis.client, redis.keys, {
      attempts: config.webhooks.attempts,
      backoffMs: config.webhooks.backoffMs,
    });
    return enqueuer.enqueue;
  }

  async function settled(runId: string): Promise<string> {
    await expect.poll(() => queue.getJobState(runId), { timeout: 8_000 }).toMatch(/^(completed|failed)$/);
    return queue.getJobState(runId);
  }

  it('delivers the ended run, signed so the standardwebhooks library verifies it with its tenant’s secret, and nothing else does', async () => {
    receiver = await startReceiver(() => 200);
    const enqueue = await start({});
    await store.create(endedRun('run_webhook00001', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00001' });
    expect(await settled('run_webhook00001')).toBe('completed');

    expect(receiver.deliveries).toHaveLength(1);
    const [delivery] = receiver.deliveries;
    if (delivery === undefined) throw new Error('no delivery');
    const headers = delivery.headers as Record<string, string>;
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'plainloop-webhooks',
      'webhook-id': 'run_webhook00001',
    });
    expect(Number(headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1);
    const verified = new Webhook(acmeSecret).verify(delivery.body, headers);
    expect(WebhookPayload.parse(verified)).toEqual({
      type: 'run.finished',
      runId: 'run_webhook00001',
      tenantId: 'acme',
      agent: 'support',
      status: 'succeeded',
      output: { reply: 'It shipped yesterday.' },
      usage: { inputTokens: 120, cachedInputTokens: 0, outputTokens: 30, reasoningTokens: 0 },
      costUsd: 0.0021,
      steps: 2,
      createdAt: '2026-11-29T10:00:00.000Z',
      finishedAt: '2026-11-29T10:00:04.500Z',
    });

    const tampered = delivery.body.replace('It shipped yesterday.', 'It was cancelled.');
    expect(() => new Webhook(acmeSecret).verify(tampered, headers)).toThrow(WebhookVerificationError);
    // Another tenant's receiver, and anyone holding the deployment's own secret, cannot verify it.
    for (const other of [
      webhookSecretOf(secret, 'globex'),
      secret,
      `whsec_${randomBytes(32).toString('base64')}`,
    ])
      expect(() => new Webhook(other).verify(delivery.body, headers)).toThrow(WebhookVerificationError);
    const replayed = { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) + 1) };
    expect(() => new Webhook(acmeSecret).verify(delivery.body, replayed)).toThrow(WebhookVerificationError);

    const state = await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00001');
    expect(state).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
    expect(state?.lastError).toBeUndefined();
    expect(Date.parse(state?.deliveredAt ?? '')).toBeGreaterThan(Date.now() - 10_000);
    const ttl = await redis.client.ttl(redis.keys.run('acme', 'run_webhook00001').webhook);
    expect(ttl).toBeGreaterThan(7 * 24 * 3600 - 60);
  });

  it('enqueues a run once: a second enqueue of the same run sends nothing more, even after its job is gone', async () => {
    receiver = await startReceiver(() => 200);
    const enqueue = await start({});
    await store.create(endedRun('run_webhook00002', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00002' });
    expect(await settled('run_webhook00002')).toBe('completed');
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00002' });
    // Completed jobs are removed after a day; the delivery's record lasts as long as the run.
    await queue.remove('run_webhook00002');
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00002' });
    expect(await queue.getJobState('run_webhook00002')).toBe('unknown');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.deliveries).toHaveLength(1);
  });

  it('retries a failing receiver under the same webhook-id, each wait five times the last, until it takes the delivery', async () => {
    receiver = await startReceiver((index) => (index < 2 ? 500 : 200));
    const enqueue = await start({ PLAINLOOP_WEBHOOK_BACKOFF_MS: '150' });
    await store.create(endedRun('run_webhook00003', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00003' });
    expect(await settled('run_webhook00003')).toBe('completed');

    const deliveries = receiver.deliveries;
    expect(deliveries).toHaveLength(3);
    expect(new Set(deliveries.map((each) => each.headers['webhook-id']))).toEqual(
      new Set(['run_webhook00003']),
    );
    for (const each of deliveries)
      new Webhook(acmeSecret).verify(each.body, each.headers as Record<string, string>);
    const [first, second, third] = deliveries.map((each) => each.at) as [number, number, number];
    // From 150 ms, five times longer each time, ±20%: 120–180 ms, then 600–900 ms (BullMQ's exponential
    // backoff would have waited 300 ms).
    expect(second - first).toBeGreaterThanOrEqual(115);
    expect(second - first).toBeLessThan(500);
    expect(third - second).toBeGreaterThanOrEqual(590);
    expect(third - second).toBeLessThan(2_000);
    const state = await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00003');
    expect(state).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200 });
    expect(state?.lastError).toBeUndefined();
  });

  it('ends failed after its attempts against a receiver that always fails, saying why', async () => {
    receiver = await startReceiver(() => 503);
    const enqueue = await start({ PLAINLOOP_WEBHOOK_ATTEMPTS: '3', PLAINLOOP_WEBHOOK_BACKOFF_MS: '50' });
    await store.create(endedRun('run_webhook00004', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00004' });
    await expect
      .poll(
        async () => (await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00004'))?.status,
        {
          timeout: 8_000,
        },
      )
      .toBe('failed');
    expect(await settled('run_webhook00004')).toBe('failed');
    expect(receiver.deliveries).toHaveLength(3);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00004')).toEqual({
      status: 'failed',
      attempts: 3,
      lastStatusCode: 503,
      lastError: `the receiver at 127.0.0.1:${receiver.port} answered 503`,
    });
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    receiver = await startReceiver(() => 302);
    const enqueue = await start({ PLAINLOOP_WEBHOOK_ATTEMPTS: '1' });
    await store.create(endedRun('run_webhook00005', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00005' });
    expect(await settled('run_webhook00005')).toBe('failed');
    expect(receiver.deliveries.map((each) => each.path)).toEqual(['/hooks/plainloop']);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00005')).toEqual({
      status: 'failed',
      attempts: 1,
      lastStatusCode: 302,
      lastError: `the receiver at 127.0.0.1:${receiver.port} answered 302`,
    });
  });

  it('gives up on an attempt the receiver does not answer in time, and tries again', async () => {
    receiver = await startReceiver(() => 'hang');
    const enqueue = await start({
      PLAINLOOP_WEBHOOK_ATTEMPTS: '2',
      PLAINLOOP_WEBHOOK_BACKOFF_MS: '50',
      PLAINLOOP_WEBHOOK_TIMEOUT_MS: '300',
    });
    await store.create(endedRun('run_webhook00009', receiver.url));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00009' });
    expect(await settled('run_webhook00009')).toBe('failed');
    expect(receiver.deliveries).toHaveLength(2);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00009')).toEqual({
      status: 'failed',
      attempts: 2,
      lastError: `the receiver at 127.0.0.1:${receiver.port} did not answer within 300 ms`,
    });
  });

  it('refuses a host that resolves to an internal address before connecting to it, and does not try again', async () => {
    receiver = await startReceiver(() => 200);
    // The name resolves to this machine: a connection would reach the receiver, so none must be made.
    const resolveHost = vi.fn(
      async (): Promise<ResolvedAddress[]> => [{ address: '::ffff:127.0.0.1', family: 6 }],
    );
    // Attempts are left (3), and the backoff is short: a retry would show as a second lookup.
    const enqueue = await start(
      { PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: 'false', PLAINLOOP_WEBHOOK_BACKOFF_MS: '50' },
      { resolveHost },
    );
    await store.create(endedRun('run_webhook00006', `http://hooks.example.test:${receiver.port}/hook`));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00006' });
    expect(await settled('run_webhook00006')).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(resolveHost).toHaveBeenCalledTimes(1);
    expect(resolveHost).toHaveBeenCalledWith('hooks.example.test');
    expect(receiver.connections()).toBe(0);
    expect((await queue.getJob('run_webhook00006'))?.attemptsMade).toBe(1);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00006')).toEqual({
      status: 'failed',
      attempts: 1,
      lastError:
        'the webhook host hooks.example.test resolves to ::ffff:127.0.0.1, which is not a public address; not retried',
    });
  });

  it('ends a delivery to a URL with credentials failed at its first attempt, even with private targets allowed', async () => {
    receiver = await startReceiver(() => 200);
    const enqueue = await start({ PLAINLOOP_WEBHOOK_BACKOFF_MS: '50' });
    await store.create(endedRun('run_webhook00010', `http://user:pass@127.0.0.1:${receiver.port}/hook`));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00010' });
    expect(await settled('run_webhook00010')).toBe('failed');
    expect(receiver.connections()).toBe(0);
    expect((await queue.getJob('run_webhook00010'))?.attemptsMade).toBe(1);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00010')).toEqual({
      status: 'failed',
      attempts: 1,
      lastError:
        'the webhook url must not carry a user name or password (deliveries are signed instead); not retried',
    });
  });

  it('connects to the address it checked, never resolving the name again', async () => {
    receiver = await startReceiver(() => 200);
    // A rebinding resolver: only the first answer reaches the receiver; any later lookup would miss it.
    const answers = ['127.0.0.1', '10.0.0.5'];
    const resolveHost = vi.fn(
      async (): Promise<ResolvedAddress[]> => [{ address: answers.shift() ?? '10.0.0.5', family: 4 }],
    );
    const enqueue = await start({ PLAINLOOP_WEBHOOK_ATTEMPTS: '1' }, { resolveHost });
    // hooks.example.test is in no DNS: the connection can only reach the receiver through the pinned address.
    await store.create(endedRun('run_webhook00007', `http://hooks.example.test:${receiver.port}/hook`));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00007' });
    expect(await settled('run_webhook00007')).toBe('completed');
    expect(resolveHost).toHaveBeenCalledTimes(1);
    expect(receiver.deliveries).toHaveLength(1);
    expect(receiver.deliveries[0]?.headers.host).toBe(`hooks.example.test:${receiver.port}`);
  });

  it('completes without sending anything for a run that expired or has no webhook', async () => {
    receiver = await startReceiver(() => 200);
    const enqueue = await start({});
    await store.create(endedRun('run_webhook00008', undefined));
    await enqueue({ tenantId: 'acme', runId: 'run_webhook00008' });
    await enqueue({ tenantId: 'acme', runId: 'run_webhookgone01' });
    expect(await settled('run_webhook00008')).toBe('completed');
    expect(await settled('run_webhookgone01')).toBe('completed');
    expect(receiver.connections()).toBe(0);
    expect(await readWebhookDelivery(redis.client, redis.keys, 'acme', 'run_webhook00008')).toBeUndefined();
  });

  it('refuses to start with a secret that is not a Standard Webhooks secret', async () => {
    await expect(
      startWebhookWorker({
        redis: redis.client,
        keys: redis.keys,
        logger,
        settings: { secret: 'hunter2', allowPrivateTargets: false, timeoutMs: 1_000, retentionSeconds: 60 },
        concurrency: 1,
      }),
    ).rejects.toThrow('PLAINLOOP_WEBHOOK_SECRET must be whsec_');
    await expect(
      startWebhookWorker({
        redis: redis.client,
        keys: redis.keys,
        logger,
        settings: {
          secret: `whsec_${randomBytes(8).toString('base64')}`,
          allowPrivateTargets: false,
          timeoutMs: 1_000,
          retentionSeconds: 60,
        },
        concurrency: 1,
      }),
    ).rejects.toThrow('at least 24 random bytes');
  });
});
