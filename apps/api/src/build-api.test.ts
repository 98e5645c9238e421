import { readFile } from 'node:fs/promises';
import {
  bindModels,
  defineAgent,
  defineTool,
  executeRun,
  manifestOf,
  runEnvironmentFromConfig,
  runIdFor,
} from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { RunRequest } from '@plainloop/contracts';
import { CircuitBreaker, createModelCatalog, scriptedModel } from '@plainloop/llm';
import { createRedisClient, createRunQueue } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { webhookSecretOf } from '@plainloop/webhooks';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiKeyring } from './auth/api-keyring.ts';
import { buildApi } from './build-api.ts';
import { openApiDocumentPath } from './openapi-document.ts';

const model = scriptedModel({ name: 'noop', script: () => ({ text: 'done' }) });
const research = defineAgent({
  name: 'research',
  instructions: 'Research.',
  input: z.object({ topic: z.string().min(1) }),
  models: { plan: [model], execute: [model] },
});

const keys: Record<string, string> = {
  default: 'key-of-the-default-tenant',
  acme: 'key-of-the-acme-tenant',
  globex: 'key-of-the-globex-tenant',
};
const authentication = {
  keyring: ApiKeyring.of(Object.fromEntries(Object.entries(keys).map(([tenant, key]) => [key, tenant]))),
};

describe('the producer API', () => {
  let redis: TestRedis;
  let app: FastifyInstance;
  const logger = createLogger({ service: 'api-test', level: 'silent' });

  beforeEach(async () => {
    redis = await useTestRedis('producer');
    const config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_API_BODY_LIMIT_BYTES: '65536',
    });
    const { bound } = bindModels(research, createModelCatalog({ openai: {} }));
    await redis.client.hset(redis.keys.agents, 'research', JSON.stringify(manifestOf(bound, Date.now())));
    app = await buildApi({ config, redis: redis.client, logger, authentication });
  });
  afterEach(async () => {
    await app.close();
    await redis.close();
  });

  /** Requests with the API key of `tenant`, to `target` (the app under test by default). */
  const as = (tenant: string, target?: FastifyInstance) => ({
    inject: (options: InjectOptions) =>
      (target ?? app).inject({
        ...options,
        headers: { ...(options.headers ?? {}), authorization: `Bearer ${keys[tenant]}` },
      }),
  });
  const post = (payload: unknown, headers: Record<string, string> = {}) => {
    const named = (payload as { tenantId?: unknown } | null)?.tenantId;
    const tenant = typeof named === 'string' && named in keys ? named : 'default';
    return as(tenant).inject({ method: 'POST', url: '/v1/runs', payload: payload as object, headers });
  };

  it('accepts a run with 202, queues its job under the run id, and reads it back', async () => {
    const response = await post({ agent: 'research', input: { topic: 'redis' }, tenantId: 'acme' });
    expect(response.statusCode).toBe(202);
    const { runId, status } = response.json();
    expect(status).toBe('queued');
    expect(response.headers.location).toBe(`/v1/runs/${runId}`);

    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    const job = await queue.getJob(runId);
    expect(job?.data).toMatchObject({ runId, request: { agent: 'research', tenantId: 'acme' } });
    await queue.close();

    const read = await as('acme').inject({ method: 'GET', url: `/v1/runs/${runId}` });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ runId, agent: 'research', status: 'queued', costUsd: 0, steps: [] });
  });

  it('makes one run of a retried POST with the same idempotency key', async () => {
    const body = { agent: 'research', input: { topic: 'redis' }, idempotencyKey: 'order-42' };
    const first = await post(body);
    const second = await post(body);
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json().runId).toBe(first.json().runId);
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    expect(await queue.getJobCounts('wait', 'active', 'delayed')).toMatchObject({ wait: 1 });
    await queue.close();
  });

  it('refuses a different request reusing an idempotency key with 409', async () => {
    await post({ agent: 'research', input: { topic: 'redis' }, idempotencyKey: 'k' });
    const reused = await post({ agent: 'research', input: { topic: 'postgres' }, idempotencyKey: 'k' });
    expect(reused.statusCode).toBe(409);
    expect(reused.json()).toMatchObject({ title: 'idempotency_conflict', status: 409 });
  });

  it.each([
    ['a body that is not JSON', '{"agent": ', 400, 'bad_request'],
    ['a body without an agent', { input: {} }, 400, 'invalid_request'],
    ['an unknown field', { agent: 'research', input: {}, priority: 9 }, 400, 'invalid_request'],
    ['a tenant id with a colon', { agent: 'research', input: {}, tenantId: 'a:b' }, 400, 'invalid_request'],
    ['an agent no worker runs', { agent: 'support', input: {} }, 422, 'unknown_agent'],
    ['input that does not fit the agent', { agent: 'research', input: { topic: '' } }, 422, 'invalid_input'],
    [
      'a body over the size limit',
      { agent: 'research', input: { topic: 'x'.repeat(70_000) } },
      413,
      'body_too_large',
    ],
  ])('answers %s with a JSON problem and queues nothing', async (_label, payload, status, title) => {
    const response = await as('default').inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({ title, status, detail: expect.any(String) });
    expect(JSON.stringify(problem)).not.toMatch(/\bat .*\.ts:\d+/);
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    expect(await queue.count()).toBe(0);
    await queue.close();
  });

  it('answers JSON nested too deeply for the validator with a 400', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const response = await as('default').inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { 'content-type': 'application/json' },
      payload: `{"agent":"research","input":${deep}}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ title: 'invalid_request', detail: 'the body nests too deeply' });
  });

  it('lists what is wrong with the input', async () => {
    const response = await post({ agent: 'research', input: { topic: 7 } });
    expect(response.json().errors).toEqual(['input/topic: must be string']);
  });

  it('cancels a queued run at once: its job leaves the queue and a reader sees why', async () => {
    const { runId } = (await post({ agent: 'research', input: { topic: 'redis' } })).json();
    const cancel = await as('default').inject({
      method: 'POST',
      url: `/v1/runs/${runId}/cancel`,
      payload: { reason: 'the user changed their mind' },
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toEqual({ runId, status: 'cancelled' });
    const read = await as('default').inject({ method: 'GET', url: `/v1/runs/${runId}` });
    expect(read.json()).toMatchObject({
      status: 'cancelled',
      error: { code: 'cancelled', message: 'the user changed their mind' },
    });
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    expect(await queue.getJob(runId)).toBeUndefined();
    await queue.close();
    // Cancelling again changes nothing and says so plainly.
    expect((await as('default').inject({ method: 'POST', url: `/v1/runs/${runId}/cancel` })).json()).toEqual({
      runId,
      status: 'cancelled',
    });
  });

  it('answers a cancel of an unknown run with 404 and of a bad body with 400', async () => {
    expect(
      (await as('default').inject({ method: 'POST', url: '/v1/runs/run_0000000000000000/cancel' }))
        .statusCode,
    ).toBe(404);
    const { runId } = (await post({ agent: 'research', input: { topic: 'redis' } })).json();
    const bad = await as('default').inject({
      method: 'POST',
      url: `/v1/runs/${runId}/cancel`,
      payload: { reason: 42 },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });

  it('lists the agents workers published', async () => {
    const response = await as('default').inject({ method: 'GET', url: '/v1/agents' });
    expect(response.json()).toMatchObject({
      agents: [{ name: 'research', models: { plan: ['scripted:noop'] }, limits: { maxIterations: 10 } }],
    });
  });

  it('shows the circuit breaker of every model the fleet has called', async () => {
    const breaker = new CircuitBreaker(redis.client, redis.keys, {
      failureThreshold: 1,
      cooldownMs: 60_000,
      probeLeaseMs: 1_000,
    });
    await breaker.recordFailure('openai:gpt-4.1');
    const response = await as('default').inject({ method: 'GET', url: '/v1/models' });
    expect(response.json()).toEqual({
      models: [
        {
          model: 'openai:gpt-4.1',
          breaker: { state: 'open', consecutiveFailures: 1, openedAt: expect.any(String) },
          cooldownMs: 0,
        },
      ],
    });
  });

  it('refuses a request without a valid API key with 401, and acts for the key’s tenant only', async () => {
    const bare = await app.inject({ method: 'GET', url: '/v1/agents' });
    expect(bare.statusCode).toBe(401);
    expect(bare.headers['www-authenticate']).toContain('Bearer');
    expect(bare.headers['content-type']).toContain('application/problem+json');
    expect(bare.json()).toMatchObject({ title: 'unauthenticated', status: 401 });
    const wrong = await app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: { authorization: 'Bearer not-a-key-anyone-has' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().detail).toBe('this API key is not valid');
    const viaHeader = await app.inject({
      method: 'GET',
      url: '/v1/agents',
      headers: { 'x-api-key': keys.acme },
    });
    expect(viaHeader.statusCode).toBe(200);
    // Health checks stay open for orchestrators.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    // A body naming another tenant than the key's is refused; one naming none gets the key's.
    const foreign = await as('acme').inject({
      method: 'POST',
      url: '/v1/runs',
      payload: { agent: 'research', input: { topic: 'redis' }, tenantId: 'globex' },
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json()).toMatchObject({ title: 'wrong_tenant' });
    const unnamed = await as('acme').inject({
      method: 'POST',
      url: '/v1/runs',
      payload: { agent: 'research', input: { topic: 'redis' } },
    });
    expect(unnamed.statusCode).toBe(202);
    const { runId } = unnamed.json();
    expect((await as('acme').inject({ method: 'GET', url: `/v1/runs/${runId}` })).json()).toMatchObject({
      tenantId: 'acme',
    });
    // Another tenant can neither read, cancel nor decide on it: 404, as if it did not exist.
    for (const request of [
      { method: 'GET' as const, url: `/v1/runs/${runId}` },
      { method: 'GET' as const, url: `/v1/runs/${runId}/events` },
      { method: 'GET' as const, url: `/v1/runs/${runId}/steps` },
      { method: 'POST' as const, url: `/v1/runs/${runId}/cancel` },
      { method: 'POST' as const, url: `/v1/runs/${runId}/approvals/call-1`, payload: { approved: true } },
      { method: 'POST' as const, url: `/v1/runs/${runId}/approve`, payload: { callId: 'c', approved: true } },
      { method: 'POST' as const, url: `/v1/runs/${runId}/fork`, payload: { fromStep: 0 } },
    ]) {
      const response = await as('globex').inject(request);
      expect(response.statusCode, request.url).toBe(404);
      expect(response.json().detail).not.toContain('acme');
    }
  });

  it('refuses every /v1/ route of the OpenAPI document without a key, or with a key nobody has', async () => {
    const document = JSON.parse(await readFile(openApiDocumentPath, 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => ({ method, path })));
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const { method, path } of routes) {
      const url = path.replace('{runId}', 'run_0000000000000000').replace('{callId}', 'call-1');
      for (const headers of [{}, { authorization: 'Bearer not-a-key-anyone-has' }, { 'x-api-key': 'nope' }]) {
        const response = await app.inject({
          method: method.toUpperCase() as 'GET' | 'POST',
          url,
          headers,
          ...(method === 'post' ? { payload: {} } : {}),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(401);
        expect(response.json()).toMatchObject({ title: 'unauthenticated' });
      }
    }
  });

  it('lists a tenant’s runs newest first, a page at a time, filtered by status and thread', async () => {
    const created: string[] = [];
    for (let index = 0; index < 25; index += 1) {
      const payload = {
        agent: 'research',
        input: { topic: `topic ${index}` },
        ...(index % 5 === 0 ? { threadId: 't1' } : {}),
      };
      created.push((await as('acme').inject({ method: 'POST', url: '/v1/runs', payload })).json().runId);
    }
    await as('globex').inject({
      method: 'POST',
      url: '/v1/runs',
      payload: { agent: 'research', input: { topic: 'x' } },
    });
    for (const runId of created.slice(0, 2))
      await as('acme').inject({ method: 'POST', url: `/v1/runs/${runId}/cancel` });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/runs?limit=10${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await as('acme').inject({ method: 'GET', url })).json();
      expect(page.runs.length).toBeLessThanOrEqual(10);
      seen.push(...page.runs.map((run: { runId: string }) => run.runId));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(new Set(created));
    expect(seen).toHaveLength(25);

    const cancelled = (await as('acme').inject({ method: 'GET', url: '/v1/runs?status=cancelled' })).json();
    expect(cancelled.runs.map((run: { runId: string }) => run.runId).sort()).toEqual(
      created.slice(0, 2).sort(),
    );
    const threaded = (await as('acme').inject({ method: 'GET', url: '/v1/runs?threadId=t1' })).json();
    expect(threaded.runs).toHaveLength(5);
    expect(threaded.nextCursor).toBeNull();
    const globex = (await as('globex').inject({ method: 'GET', url: '/v1/runs' })).json();
    expect(globex.runs).toHaveLength(1);

    expect((await as('acme').inject({ method: 'GET', url: '/v1/runs?status=sleeping' })).statusCode).toBe(
      400,
    );
    expect((await as('acme').inject({ method: 'GET', url: '/v1/runs?cursor=bogus' })).statusCode).toBe(400);
    expect((await as('acme').inject({ method: 'GET', url: '/v1/runs?limit=1000' })).statusCode).toBe(400);
  });

  it('takes the idempotency key from the Idempotency-Key header too, and refuses two different keys', async () => {
    const body = { agent: 'research', input: { topic: 'redis' } };
    const first = await post(body, { 'idempotency-key': 'order-7' });
    const second = await post(body, { 'idempotency-key': 'order-7' });
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json().runId).toBe(first.json().runId);
    expect(first.json().runId).toBe(runIdFor({ tenantId: 'default', idempotencyKey: 'order-7' }));
    // The same key in the body is the same run; a different one beside the header is a mistake.
    expect((await post({ ...body, idempotencyKey: 'order-7' })).json().runId).toBe(first.json().runId);
    const both = await post({ ...body, idempotencyKey: 'order-8' }, { 'idempotency-key': 'order-7' });
    expect(both.statusCode).toBe(400);
    expect(both.json().detail).toContain('Idempotency-Key');
  });

  it('forks a run: a queued run of the key’s tenant, with its models and a key of its own', async () => {
    const { runId } = (await post({ agent: 'research', input: { topic: 'redis' } })).json();
    const fork = (payload: object, headers: Record<string, string> = {}) =>
      as('default').inject({ method: 'POST', url: `/v1/runs/${runId}/fork`, payload, headers });
    const created = await fork(
      { fromStep: 0, models: { execute: ['openai:gpt-4.1-mini'] } },
      { 'idempotency-key': 'fork-1' },
    );
    expect(created.statusCode).toBe(202);
    const forked = created.json();
    expect(forked).toEqual({ runId: expect.any(String), status: 'queued', forkedFrom: { runId, step: 0 } });
    expect(created.headers.location).toBe(`/v1/runs/${forked.runId}`);
    const again = await fork({
      fromStep: 0,
      models: { execute: ['openai:gpt-4.1-mini'] },
      idempotencyKey: 'fork-1',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().runId).toBe(forked.runId);
    expect((await fork({ fromStep: 0 }, { 'idempotency-key': 'fork-1' })).statusCode).toBe(409);

    const read = (await as('default').inject({ method: 'GET', url: `/v1/runs/${forked.runId}` })).json();
    expect(read).toMatchObject({
      status: 'queued',
      forkedFrom: { runId, step: 0, costUsd: 0 },
      models: { execute: ['openai:gpt-4.1-mini'] },
    });
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    expect((await queue.getJob(forked.runId))?.data).toMatchObject({
      runId: forked.runId,
      request: { agent: 'research' },
    });
    await queue.close();

    const beyond = await fork({ fromStep: 3 });
    expect(beyond.statusCode).toBe(422);
    expect(beyond.json()).toMatchObject({
      title: 'invalid_fork',
      detail: expect.stringContaining('0 completed steps'),
    });
    for (const payload of [
      {},
      { fromStep: -1 },
      { fromStep: 0, models: { plan: ['gpt 4'] } },
      { fromStep: 0, extra: 1 },
    ]) {
      const bad = await fork(payload);
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().title).toBe('invalid_request');
    }
    expect(
      (
        await as('default').inject({
          method: 'POST',
          url: '/v1/runs/run_0000000000000000/fork',
          payload: { fromStep: 0 },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('shows a fork’s replayed steps in its timeline, as the runs that made them recorded them', async () => {
    const lookup = defineTool({
      name: 'lookup',
      description: 'Look a thing up',
      input: z.object({ topic: z.string() }),
      run: ({ topic }) => `${topic}: found`,
    });
    /** Two lookups, then the answer; a fork goes on counting from the turns it was given. */
    const lookups = (name: string) =>
      scriptedModel({
        name,
        script: ({ turn }) =>
          turn < 2
            ? { toolCalls: [{ name: 'lookup', arguments: { topic: `topic ${turn}` } }] }
            : { text: 'done' },
      });
    const agentWith = (model: ReturnType<typeof lookups>) =>
      bindModels(
        defineAgent({
          name: 'lookups',
          instructions: 'Look it up.',
          input: z.object({ topic: z.string() }),
          tools: [lookup],
          models: { plan: [model], execute: [model] },
        }),
        createModelCatalog({ openai: {} }),
      ).bound;
    const original = agentWith(lookups('original'));
    await redis.client.hset(redis.keys.agents, 'lookups', JSON.stringify(manifestOf(original, Date.now())));
    const environment = runEnvironmentFromConfig(loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }), {
      redis: redis.connect('worker'),
      keys: redis.keys,
      logger,
    });
    const request = RunRequest.parse({ agent: 'lookups', input: { topic: 'redis' } });
    const execute = (runId: string, bound: typeof original) =>
      executeRun({
        environment,
        agents: new Map([['lookups', bound]]),
        job: { runId, request },
        signal: new AbortController().signal,
        shouldRelease: () => false,
        lastAttempt: true,
      });
    const fork = async (runId: string, fromStep: number) => {
      const response = await as('default').inject({
        method: 'POST',
        url: `/v1/runs/${runId}/fork`,
        payload: { fromStep },
      });
      expect(response.statusCode).toBe(202);
      return response.json().runId as string;
    };
    const timelineOf = async (runId: string) =>
      (await as('default').inject({ method: 'GET', url: `/v1/runs/${runId}/steps` })).json();

    const { runId } = (await post({ agent: 'lookups', input: { topic: 'redis' } })).json();
    expect(await execute(runId, original)).toMatchObject({ state: { status: 'succeeded', step: 3 } });
    const first = await fork(runId, 1);
    expect(await timelineOf(first)).toMatchObject({
      status: 'queued',
      costUsd: 0,
      steps: [
        {
          step: 0,
          replayed: true,
          modelCalls: [{ model: 'scripted:original' }],
          toolCalls: [{ tool: 'lookup', outcome: 'success' }],
        },
      ],
    });
    // The first fork runs its steps 1 and 2 on another model; a fork of it from step 2 replays step 0
    // from the original and step 1 from the first fork.
    expect(await execute(first, agentWith(lookups('forked')))).toMatchObject({
      state: { status: 'succeeded', step: 3 },
    });
    const second = await timelineOf(await fork(first, 2));
    expect(
      second.steps.map((step: { step: number; replayed?: boolean; modelCalls: Array<{ model: string }> }) => [
        step.step,
        step.replayed,
        step.modelCalls[0]?.model,
      ]),
    ).toEqual([
      [0, true, 'scripted:original'],
      [1, true, 'scripted:forked'],
    ]);
    const source = await timelineOf(runId);
    expect(source.steps.map((step: { replayed?: boolean }) => step.replayed)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('takes a run’s webhook only when it can be delivered: a signing secret, and a public target', async () => {
    const webhookRun = (url: string) => ({ agent: 'research', input: { topic: 'redis' }, webhook: { url } });
    const unsigned = await post(webhookRun('https://hooks.example.com/plainloop'));
    expect(unsigned.statusCode).toBe(422);
    expect(unsigned.json()).toMatchObject({ title: 'webhooks_not_configured' });

    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const signing = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix, PLAINLOOP_WEBHOOK_SECRET: secret }),
      redis: redis.client,
      logger,
      authentication,
    });
    try {
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://10.1.2.3/hook',
        'http://[::1]/x',
        'http://localhost/x',
      ]) {
        const refused = await as('default', signing).inject({
          method: 'POST',
          url: '/v1/runs',
          payload: webhookRun(url),
        });
        expect(refused.statusCode, url).toBe(422);
        expect(refused.json()).toMatchObject({ title: 'invalid_webhook' });
      }
      const notHttp = await as('default', signing).inject({
        method: 'POST',
        url: '/v1/runs',
        payload: webhookRun('ftp://hooks.example.com/x'),
      });
      expect(notHttp.statusCode).toBe(400);
      const accepted = await as('default', signing).inject({
        method: 'POST',
        url: '/v1/runs',
        payload: webhookRun('https://hooks.example.com/plainloop'),
      });
      expect(accepted.statusCode).toBe(202);
      const read = await as('default', signing).inject({
        method: 'GET',
        url: `/v1/runs/${accepted.json().runId}`,
      });
      expect(read.json().webhook).toEqual({
        url: 'https://hooks.example.com/plainloop',
        delivery: { status: 'pending', attempts: 0 },
      });
      const fork = await as('default', signing).inject({
        method: 'POST',
        url: `/v1/runs/${accepted.json().runId}/fork`,
        payload: { fromStep: 0, webhook: { url: 'http://169.254.169.254/latest' } },
      });
      expect(fork.statusCode).toBe(422);
      expect(fork.json()).toMatchObject({ title: 'invalid_webhook' });
    } finally {
      await signing.close();
    }
    const allowing = await buildApi({
      config: loadConfig({
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        PLAINLOOP_WEBHOOK_SECRET: secret,
        PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: 'true',
      }),
      redis: redis.client,
      logger,
      authentication,
    });
    const local = await as('default', allowing).inject({
      method: 'POST',
      url: '/v1/runs',
      payload: webhookRun('http://127.0.0.1:8080/hook'),
    });
    expect(local.statusCode).toBe(202);
    await allowing.close();
  });

  it('gives each tenant its own webhook secret, derived from the deployment’s, and only with a key', async () => {
    const unsigned = await as('acme').inject({ method: 'GET', url: '/v1/webhook-secret' });
    expect(unsigned.statusCode).toBe(422);
    expect(unsigned.json()).toMatchObject({ title: 'webhooks_not_configured' });

    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const signing = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix, PLAINLOOP_WEBHOOK_SECRET: secret }),
      redis: redis.client,
      logger,
      authentication,
    });
    try {
      const secrets = new Map<string, string>();
      for (const tenant of ['acme', 'globex']) {
        const response = await as(tenant, signing).inject({ method: 'GET', url: '/v1/webhook-secret' });
        expect(response.statusCode).toBe(200);
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.json()).toEqual({ secret: webhookSecretOf(secret, tenant) });
        secrets.set(tenant, response.json().secret);
      }
      expect(secrets.get('acme')).not.toBe(secrets.get('globex'));
      expect([...secrets.values()]).not.toContain(secret);
      const anonymous = await signing.inject({ method: 'GET', url: '/v1/webhook-secret' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.body).not.toContain('whsec_');
    } finally {
      await signing.close();
    }
  });

  it('limits each tenant’s requests in a window, counted in Redis for every API replica', async () => {
    const config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_API_RATE_LIMIT: '3',
      PLAINLOOP_API_RATE_WINDOW_MS: '60000',
    });
    const replicas = [
      await buildApi({ config, redis: redis.client, logger, authentication }),
      await buildApi({ config, redis: redis.client, logger, authentication }),
    ];
    try {
      const statuses: number[] = [];
      for (const replica of [0, 1, 0, 1]) {
        const response = await as('acme', replicas[replica]).inject({ method: 'GET', url: '/v1/agents' });
        statuses.push(response.statusCode);
        if (response.statusCode === 200) expect(response.headers['x-ratelimit-limit']).toBe('3');
        if (response.statusCode === 429) {
          expect(response.headers['retry-after']).toMatch(/^\d+$/);
          expect(response.headers['content-type']).toContain('application/problem+json');
          expect(response.json()).toMatchObject({ title: 'rate_limited', status: 429 });
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      // Another tenant has its own count, and health checks are never limited.
      expect((await as('globex', replicas[1]).inject({ method: 'GET', url: '/v1/agents' })).statusCode).toBe(
        200,
      );
      expect((await replicas[0]?.inject({ method: 'GET', url: '/healthz' }))?.statusCode).toBe(200);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it('ends open event streams when it closes, so a shutdown never waits on a watcher', async () => {
    const { runId } = (await post({ agent: 'research', input: { topic: 'redis' } })).json();
    const served = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: redis.client,
      logger,
      authentication,
    });
    const address = await served.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${address}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${keys.default}` },
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    // The queued run's first event arrives; the run never finishes (no worker), so the stream stays open.
    expect(new TextDecoder().decode((await reader?.read())?.value)).toContain('event: run.queued');
    const closingAt = Date.now();
    await served.close();
    expect(Date.now() - closingAt).toBeLessThan(3_000);
    let ended = false;
    while (!ended) ended = (await reader?.read())?.done ?? true;
  });

  it('never shows one tenant the run of another', async () => {
    const { runId } = (await post({ agent: 'research', input: { topic: 'redis' }, tenantId: 'acme' })).json();
    const other = await as('globex').inject({ method: 'GET', url: `/v1/runs/${runId}` });
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ title: 'run_not_found' });
  });

  it('answers unknown runs, bad ids and unknown routes with problems', async () => {
    expect(
      (await as('default').inject({ method: 'GET', url: '/v1/runs/run_0000000000000000' })).statusCode,
    ).toBe(404);
    expect((await as('default').inject({ method: 'GET', url: '/v1/runs/nope' })).statusCode).toBe(400);
    const unknown = await as('default').inject({ method: 'GET', url: '/v2/everything' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
  });

  it("shows a tenant's cost of the day, and its daily budget's own ledger when it has one", async () => {
    const day = new Date().toISOString().slice(0, 10);
    // The metrics process keeps each shard's counts apart: a tenant's cost is their sum.
    await redis.client.hset(redis.keys.shard(0).metrics.tenantCost, `${day}|acme`, '1', `${day}|globex`, '9');
    await redis.client.hset(redis.keys.shard(5).metrics.tenantCost, `${day}|acme`, '0.25');
    const today = await as('acme').inject({ method: 'GET', url: '/v1/cost' });
    expect(today.statusCode).toBe(200);
    expect(today.json()).toEqual({ tenantId: 'acme', day, costUsd: 1.25, budget: null });
    const otherDay = await as('acme').inject({ method: 'GET', url: '/v1/cost?day=2026-01-01' });
    expect(otherDay.json()).toMatchObject({ day: '2026-01-01', costUsd: 0 });

    const budgeted = await buildApi({
      config: loadConfig({
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        PLAINLOOP_TENANT_DAILY_BUDGETS: '{"acme":5}',
      }),
      redis: redis.client,
      logger,
      authentication,
    });
    const withBudget = await as('acme', budgeted).inject({ method: 'GET', url: '/v1/cost' });
    expect(withBudget.json()).toMatchObject({ costUsd: 1.25, budget: { dailyUsd: 5, spentUsd: 0 } });
    await budgeted.close();

    const bad = await as('acme').inject({ method: 'GET', url: '/v1/cost?day=yesterday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });

  it('answers 503 when Redis is unreachable instead of hanging', async () => {
    const deadRedis = createRedisClient('redis://127.0.0.1:1', 'producer');
    deadRedis.on('error', () => {});
    const config = loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix });
    const isolated = await buildApi({ config, redis: deadRedis, logger, authentication });
    const response = await as('default', isolated).inject({
      method: 'GET',
      url: '/v1/runs/run_0000000000000000',
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ title: 'unavailable' });
    const ready = await isolated.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect((await isolated.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await isolated.close();
    deadRedis.disconnect();
  });
});
