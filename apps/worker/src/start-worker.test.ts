import { defineAgent, defineTool, submitRun } from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { AgentManifest, RunRequest, type RunState } from '@plainloop/contracts';
import { scriptedModel } from '@plainloop/llm';
import { ThreadQueue, ThreadStore } from '@plainloop/memory';
import { createRunQueue, type RedisConnection, RunStore, runJobOptions } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type RunningWorker, startWorker } from './start-worker.ts';

const echo = defineTool({
  name: 'echo',
  description: 'Echo the text',
  input: z.object({ text: z.string() }),
  run: ({ text }) => text,
});
const model = scriptedModel({
  name: 'echo',
  script: ({ turn, input }) =>
    turn === 0
      ? { toolCalls: [{ name: 'echo', arguments: { text: (input as { text: string }).text } }] }
      : { text: 'echoed' },
});
const echoAgent = defineAgent({
  name: 'echo',
  instructions: 'Echo.',
  input: z.object({ text: z.string() }),
  tools: [echo],
  models: { plan: [model], execute: [model] },
});
/** An agent whose input check throws instead of reporting: a bug the worker must not leave hanging. */
const brokenAgent = defineAgent({
  name: 'broken',
  instructions: 'Never runs.',
  input: z.object({ text: z.string() }).transform(() => {
    throw new Error('bug in the input transform');
  }),
  models: { plan: [model], execute: [model] },
});

/** A chat agent with a slow model, so runs of one thread would overlap if nothing kept them apart. */
const slowChat = defineAgent({
  name: 'slow-chat',
  instructions: 'Chat.',
  input: z.string(),
  models: {
    plan: [scriptedModel({ name: 'slow', latencyMs: 800, script: () => ({ text: 'ok' }) })],
    execute: [scriptedModel({ name: 'slow', latencyMs: 800, script: () => ({ text: 'ok' }) })],
  },
});

const logger = createLogger({ service: 'worker-test', level: 'silent' });

describe('startWorker', () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let worker: RunningWorker;
  let store: RunStore;

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect();
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    const config = loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix, PLAINLOOP_CONCURRENCY: '2' });
    worker = await startWorker({
      config,
      redisUrl: redis.url,
      agents: [echoAgent, brokenAgent, slowChat],
      logger,
    });
  });
  afterEach(async () => {
    await worker.close();
    await queue.close();
    await redis.close();
  });

  async function until(runId: string, done: (state: RunState) => boolean): Promise<RunState> {
    for (let waited = 0; waited < 15_000; waited += 50) {
      const state = await store.load('default', runId);
      if (state && done(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`run ${runId} did not get there`);
  }

  it('publishes the manifest of each agent it runs', async () => {
    const stored = await producer.hget(redis.keys.agents, 'echo');
    expect(AgentManifest.parse(JSON.parse(stored ?? '{}'))).toMatchObject({
      name: 'echo',
      tools: [{ name: 'echo', idempotent: false }],
      models: { plan: ['scripted:echo'], execute: ['scripted:echo'] },
    });
  });

  it('reports ready while it runs, and not ready from the moment it begins to close', async () => {
    expect(await worker.readiness()).toEqual({ ready: true });
    const closing = worker.close();
    expect(await worker.readiness()).toEqual({ ready: false, reason: 'the worker is shutting down' });
    await closing;
    expect(await worker.readiness()).toMatchObject({ ready: false });
  });

  it('takes a submitted run from the queue to its result', async () => {
    const request = RunRequest.parse({ agent: 'echo', input: { text: 'hello' } });
    const { state } = await submitRun({ store, queue, logger }, request, Date.now());
    const finished = await until(state.runId, (current) => current.status === 'succeeded');
    expect(finished).toMatchObject({ output: 'echoed', step: 2, toolCalls: 1 });
    await expect.poll(() => queue.getJobState(state.runId)).toBe('completed');
  });

  it('runs again for an idempotency key whose old run expired while its finished job was still kept', async () => {
    const request = RunRequest.parse({ agent: 'echo', input: { text: 'hello' }, idempotencyKey: 'order-7' });
    const submit = () => submitRun({ store, queue, logger }, request, Date.now());
    const first = await submit();
    await until(first.state.runId, (current) => current.status === 'succeeded');
    await expect.poll(() => queue.getJobState(first.state.runId)).toBe('completed');
    const keys = redis.keys.run('default', first.state.runId);
    await producer.del(keys.state, keys.turns, keys.ledger, keys.events); // the run's retention ran out

    const second = await submit();
    expect(second).toMatchObject({ kind: 'created', state: { runId: first.state.runId, status: 'queued' } });
    const again = await until(second.state.runId, (current) => current.status === 'succeeded');
    expect(again.attempt).toBe(1);
  });

  it('ends the run of a job BullMQ gave up on, instead of leaving it running', async () => {
    const request = RunRequest.parse({ agent: 'broken', input: { text: 'x' } });
    const runId = 'run_brokenjob0001';
    await queue.add('run', { runId, request }, { ...runJobOptions, jobId: runId, attempts: 1 });
    const ended = await until(runId, (current) => current.status === 'failed');
    expect(ended.error).toEqual({
      code: 'internal_error',
      message: 'the run failed inside the worker; the logs have the details',
      retryable: false,
    });
  });

  it('leaves a run for an agent it does not have to a retry, and fails it by name at the last attempt', async () => {
    const request = RunRequest.parse({ agent: 'translator', input: { text: 'x' } });
    const runId = 'run_unknownagent01';
    await queue.add('run', { runId, request }, { ...runJobOptions, jobId: runId, attempts: 2 });
    const ended = await until(runId, (current) => current.status === 'failed');
    expect(ended).toMatchObject({ attempt: 1, error: { code: 'unknown_agent' } });
    // BullMQ records the attempt just after the run is ended: wait for it rather than race it.
    await expect.poll(async () => (await queue.getJob(runId))?.attemptsMade, { timeout: 10_000 }).toBe(2);
  });

  it('fails a job that does not carry a run, without retrying it', async () => {
    await queue.add('run', { hello: 'world' }, { ...runJobOptions, jobId: 'not-a-run' });
    await expect.poll(() => queue.getJobState('not-a-run'), { timeout: 10_000 }).toBe('failed');
    const job = await queue.getJob('not-a-run');
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/does not carry a run/);
  });

  it('runs two runs of one thread in the order they came, one at a time, and other threads alongside', async () => {
    const threads = new ThreadQueue(producer, redis.keys, 3_600);
    const submit = async (input: string, threadId: string) => {
      const request = RunRequest.parse({ agent: 'slow-chat', input, threadId });
      const dependencies = {
        store,
        queue,
        logger,
        threads,
      };
      return (await submitRun(dependencies, request, Date.now())).state.runId;
    };
    const first = await submit('first', 'thread-a');
    const second = await submit('second', 'thread-a');
    const other = await submit('other', 'thread-b');
    const [a, b, c] = await Promise.all(
      [first, second, other].map((runId) => until(runId, (state) => state.status === 'succeeded')),
    );
    // The second run of thread-a started only after the first finished; thread-b ran alongside.
    expect(b?.startedAt ?? 0).toBeGreaterThanOrEqual(a?.finishedAt ?? Number.POSITIVE_INFINITY);
    expect(c?.startedAt ?? Number.POSITIVE_INFINITY).toBeLessThan(a?.finishedAt ?? 0);
    // Each run's turns reach the thread just after its terminal checkpoint, and before the thread's
    // next run is woken: the thread holds both runs' turns, the first's first.
    const thread = new ThreadStore(producer, redis.keys, { retentionSeconds: 3_600, keepTurns: 0 });
    await vi.waitFor(async () => {
      const memory = await thread.load({ tenantId: 'default', threadId: 'thread-a' });
      expect(memory.recent.map((message) => message.content)).toEqual(['first', 'ok', 'second', 'ok']);
    });
  });
});
