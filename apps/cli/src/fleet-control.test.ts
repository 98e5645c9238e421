import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { submitRun, TenantBudget } from '@plainloop/agent';
import { buildApi } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { RunRequest, type RunRequestInput, type RunState } from '@plainloop/contracts';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger, utcDayOf } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chaosModel } from './test-fixtures/chaos-model.ts';
import { exitOf, type Fleet, startFleet, waitFor } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/chaos-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
const terminal = ['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations'];

// Workers in their own processes; the test process plays the producer, the API and the operator.
describe('controlling a fleet of worker processes', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let fleet: Fleet;
  let api: FastifyInstance;

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect();
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: model.baseUrl },
    });
    const apiRedis = redis.connect('producer');
    await waitFor('the API connection', () => (apiRedis.status === 'ready' ? true : undefined));
    api = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: apiRedis,
      logger,
      authentication: { insecure: true },
    });
  });
  afterEach(async () => {
    await api.close();
    await fleet.stop();
    await queue.close();
    await model.close();
    await redis.close();
  });

  async function submit(request: RunRequestInput): Promise<string> {
    const parsed = RunRequest.parse(request);
    await waitFor('a worker to publish its agents', async () =>
      (await producer.hexists(redis.keys.agents, parsed.agent)) ? true : undefined,
    );
    return (await submitRun({ store, queue, logger }, parsed, Date.now())).state.runId;
  }

  const settled = (runId: string, tenantId = 'default') =>
    waitFor(`run ${runId} to end`, async () => {
      const state = await store.load(tenantId, runId);
      return state && terminal.includes(state.status) ? state : undefined;
    });
  const state = (runId: string) => store.load('default', runId) as Promise<RunState>;

  it('hands a run over when its worker is SIGTERMed during a long model call; the call is not made again', async () => {
    model.respondWith(
      chaosModel({ effectsDirectory: fleet.directory, markerDirectory: fleet.directory, delayMs: 2_500 }),
    );
    const first = fleet.startWorker('worker-stopped');
    const runId = await submit({ agent: 'answer', input: { task: 'think hard' } });
    await waitFor('the model call to be under way', () => (model.requests.length === 1 ? true : undefined));
    first.child.kill('SIGTERM');
    expect(await exitOf(first)).toEqual({ code: 0, signal: null });
    // The call finished and was saved before the worker let go.
    expect(await state(runId)).toMatchObject({ status: 'running', llmCalls: 1 });
    fleet.startWorker('worker-next');
    expect(await settled(runId)).toMatchObject({
      status: 'succeeded',
      output: 'answered',
      llmCalls: 1,
      attempt: 2,
    });
    expect(model.requests).toHaveLength(1);
  });

  it('takes a run from a worker whose event loop is blocked past its lock; the late writes are refused', async () => {
    const markers = join(fleet.directory, 'markers');
    model.respondWith(
      chaosModel({ effectsDirectory: fleet.directory, markerDirectory: markers, blockMs: 10_000 }),
    );
    const blocked = fleet.startWorker('worker-blocked');
    const runId = await submit({ agent: 'cruncher', input: { task: 'crunch' } });
    await waitFor('the blocking tool to start', async () =>
      (await state(runId))?.pending ? true : undefined,
    );
    // The block outlasts the lock and a second worker process's start-up, even on a loaded machine.
    fleet.startWorker('worker-rescuer');
    const done = await settled(runId);
    expect(done).toMatchObject({ status: 'succeeded', output: 'crunched', attempt: 2 });
    // The blocked worker wakes, tries to save its tool result on the old version, and is refused.
    await waitFor('the blocked worker to wake', () =>
      readFileSync(blocked.logFile, 'utf8').includes('run moved on under this worker') ? true : undefined,
    );
    expect(await state(runId)).toEqual(done);
  });

  it('stops a run at its USD budget and a tenant at its daily budget, before the call', async () => {
    model.respondWith(
      chaosModel({ effectsDirectory: join(fleet.directory, 'effects'), markerDirectory: fleet.directory }),
    );
    fleet.startWorker('worker', { PLAINLOOP_TENANT_DAILY_BUDGETS: JSON.stringify({ acme: 0.0025 }) });
    const overRun = await settled(
      await submit({ agent: 'payments', input: { task: 'pay' }, limits: { maxCostUsd: 0.001 } }),
    );
    expect(overRun).toMatchObject({
      status: 'budget_exceeded',
      llmCalls: 0,
      budget: { budget: 'run_cost_usd', limit: 0.001 },
    });

    // One after the other, so what stops the tenant is its settled spend, not calls still in flight.
    const ended: RunState[] = [];
    for (let index = 0; index < 5; index += 1) {
      ended.push(
        await settled(
          await submit({ agent: 'payments', input: { task: `pay ${index}` }, tenantId: 'acme' }),
          'acme',
        ),
      );
    }
    const stopped = ended.filter((each) => each.status === 'budget_exceeded');
    expect(ended[0]?.status).toBe('succeeded');
    expect(stopped.length).toBeGreaterThan(0);
    expect(stopped[0]?.budget).toMatchObject({ budget: 'tenant_daily_usd', limit: 0.0025 });
    // The tenant's ledger holds exactly what its runs spent, each call once.
    const budgets = new TenantBudget(producer, redis.keys, { dailyUsd: {}, reservationLeaseMs: 60_000 });
    const spent = await budgets.spent('acme', utcDayOf(Date.now()));
    // Kept in whole nano-dollars, each call rounded up: equal to well below a millionth of a cent.
    expect(spent).toBeCloseTo(
      ended.reduce((sum, each) => sum + each.costUsd, 0),
      7,
    );
    expect(spent).toBeLessThanOrEqual(0.0025);
  });

  it('cancels a run from another process while its worker waits on the model', async () => {
    model.respondWith(
      chaosModel({ effectsDirectory: fleet.directory, markerDirectory: fleet.directory, delayMs: 10_000 }),
    );
    fleet.startWorker('worker');
    const runId = await submit({ agent: 'answer', input: { task: 'slow' } });
    await waitFor('the model call to be under way', () => (model.requests.length === 1 ? true : undefined));
    const started = Date.now();
    const response = await api.inject({
      method: 'POST',
      url: `/v1/runs/${runId}/cancel`,
      payload: { reason: 'no longer needed' },
    });
    expect(response.statusCode).toBe(202);
    expect(await settled(runId)).toMatchObject({
      status: 'cancelled',
      error: { code: 'cancelled', message: 'no longer needed' },
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('parks a call that needs approval, runs it once approved, and tells the model a denial', async () => {
    model.respondWith(chaosModel({ effectsDirectory: fleet.directory, markerDirectory: fleet.directory }));
    fleet.startWorker('worker');
    const decide = async (runId: string, approved: boolean) => {
      const parked = await waitFor('the run to wait for approval', async () => {
        const current = await state(runId);
        return current?.status === 'waiting' ? current : undefined;
      });
      const callId = parked.pending?.result.toolCalls[0]?.id ?? '';
      const decision = await api.inject({
        method: 'POST',
        url: `/v1/runs/${runId}/approvals/${callId}`,
        payload: { approved },
      });
      expect(decision.statusCode).toBe(200);
    };
    const approvedRun = await submit({ agent: 'refunds', input: { task: 'refund 42' } });
    await decide(approvedRun, true);
    expect(await settled(approvedRun)).toMatchObject({
      status: 'succeeded',
      output: 'refund result: {"refunded":"order-42"}',
    });

    const deniedRun = await submit({ agent: 'refunds', input: { task: 'refund 43' } });
    await decide(deniedRun, false);
    expect(await settled(deniedRun)).toMatchObject({
      status: 'succeeded',
      output: expect.stringContaining('approval_denied'),
    });
  });
});
