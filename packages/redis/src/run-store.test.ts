import type { ModelCallRecord, RunState } from '@plainloop/contracts';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient } from './create-redis-client.ts';
import { RunFencedError } from './errors/run-fenced-error.ts';
import { RunStore } from './run-store.ts';

function newRun(runId: string): RunState {
  return {
    runId,
    tenantId: 'acme',
    agent: 'research',
    input: { topic: 'queues' },
    requestHash: 'h',
    version: 0,
    status: 'queued',
    step: 0,
    pending: null,
    usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 },
    costUsd: 0,
    unpricedCalls: 0,
    outputRepairs: 0,
    toolFailures: {},
    disabledTools: {},
    llmCalls: 0,
    toolCalls: 0,
    attempt: 0,
    createdAt: 1,
    updatedAt: 1,
  };
}

const call: ModelCallRecord = {
  callId: 'run_1:0:a',
  step: 0,
  model: 'openai:gpt-4.1-mini',
  pricedAs: 'openai:gpt-4.1-mini',
  finishReason: 'tool_calls',
  toolCalls: ['search'],
  usage: { inputTokens: 100, cachedInputTokens: 0, outputTokens: 10, reasoningTokens: 0 },
  costUsd: 0.000056,
  costKnown: true,
  latencyMs: 12,
  at: 2,
};

describe('RunStore', () => {
  let redis: TestRedis;
  let store: RunStore;
  beforeEach(async () => {
    redis = await useTestRedis();
    store = new RunStore(redis.client, redis.keys);
  });
  afterEach(() => redis.close());

  it('resends a checkpoint its pipelined connection dropped half answered, and it lands once', async () => {
    // The worker's step machine pipelines: commands sent in one tick go in one batch, and ioredis fails
    // the unanswered rest of a batch whose connection closes, instead of sending it again.
    const pipelined = createRedisClient(redis.url, 'worker', 'pipelined', { autoPipelining: true });
    try {
      const pipelinedStore = new RunStore(pipelined, redis.keys);
      await store.create(newRun('run_a'));
      await store.create(newRun('run_b'));
      // One batch: a checkpoint Redis answers, a command that blocks for a second, another checkpoint.
      const first = pipelinedStore.checkpoint(newRun('run_a'), { ...newRun('run_a'), status: 'running' });
      const blocked = pipelined.blpop('nothing-comes', 1).catch((error: Error) => error);
      const second = pipelinedStore.checkpoint(newRun('run_b'), { ...newRun('run_b'), status: 'running' });
      await new Promise((resolve) => setTimeout(resolve, 150));
      pipelined.stream.destroy();
      expect(await blocked).toMatchObject({ name: 'AbortError' });
      expect((await first).state).toMatchObject({ runId: 'run_a', version: 1 });
      expect((await second).state).toMatchObject({ runId: 'run_b', status: 'running', version: 1 });
      expect(await store.load('acme', 'run_b')).toMatchObject({ status: 'running', version: 1 });
    } finally {
      await closeRedisClient(pipelined);
    }
  });

  it('creates a run once and returns the stored one to a second creator', async () => {
    const first = await store.create(newRun('run_1'));
    const second = await store.create({ ...newRun('run_1'), input: { topic: 'other' } });
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.state.input).toEqual({ topic: 'queues' });
    expect(await store.load('acme', 'run_1')).toEqual(newRun('run_1'));
  });

  it('creates a run with the turns it starts from, however many, and only when it creates it', async () => {
    const turns = Array.from({ length: 12_000 }, (_, index) => ({
      role: 'user' as const,
      content: `turn ${index}`,
    }));
    expect((await store.create(newRun('run_fork'), turns)).created).toBe(true);
    const stored = await store.loadTurns('acme', 'run_fork');
    expect(stored).toHaveLength(12_000);
    expect(stored.at(-1)).toEqual({ role: 'user', content: 'turn 11999' });
    expect((await store.create(newRun('run_fork'), [{ role: 'user', content: 'again' }])).created).toBe(
      false,
    );
    expect(await store.loadTurns('acme', 'run_fork')).toHaveLength(12_000);
  });

  it('keeps runs of one tenant out of reach of another', async () => {
    await store.create(newRun('run_1'));
    expect(await store.load('other-tenant', 'run_1')).toBeUndefined();
  });

  it('advances the version on each checkpoint and appends turns and ledger entries atomically', async () => {
    const { state } = await store.create(newRun('run_1'));
    const { state: running } = await store.checkpoint(state, { ...state, status: 'running' });
    expect(running.version).toBe(1);
    const { state: stepped } = await store.checkpoint(
      running,
      { ...running, step: 1 },
      {
        appendTurns: [{ role: 'assistant', content: 'hi', toolCalls: [] }],
        modelCall: call,
      },
    );
    expect(stepped.version).toBe(2);
    expect(await store.load('acme', 'run_1')).toEqual(stepped);
    expect(await store.loadTurns('acme', 'run_1')).toEqual([
      { role: 'assistant', content: 'hi', toolCalls: [] },
    ]);
    expect(await store.loadModelCalls('acme', 'run_1')).toEqual([call]);
  });

  it('refuses a write from a worker that read an older version (fencing)', async () => {
    const { state } = await store.create(newRun('run_1'));
    // Two workers read version 0; the second takes the run over first.
    const { state: takenOver } = await store.checkpoint(state, { ...state, status: 'running', attempt: 2 });
    const staleWrite = store.checkpoint(state, { ...state, status: 'running', step: 5 }, { modelCall: call });
    await expect(staleWrite).rejects.toBeInstanceOf(RunFencedError);
    await expect(staleWrite).rejects.toMatchObject({ expectedVersion: 0, currentVersion: 1 });
    expect(await store.load('acme', 'run_1')).toEqual(takenOver);
    expect(await store.loadModelCalls('acme', 'run_1')).toEqual([]);
  });

  it('treats a resend of a write that already landed as a success, not as fencing', async () => {
    const { state } = await store.create(newRun('run_1'));
    const written = await store.checkpoint(state, { ...state, status: 'running' }, { writeId: 'write-1' });
    // The reply was lost with the connection and the client sent the same script again.
    await expect(
      store.checkpoint(state, { ...state, status: 'running' }, { writeId: 'write-1' }),
    ).resolves.toEqual(written);
    // A different write on the same old version is still fenced out.
    await expect(
      store.checkpoint(state, { ...state, step: 9 }, { writeId: 'write-2' }),
    ).rejects.toBeInstanceOf(RunFencedError);
  });

  it('tells the writer of a checkpoint that someone asked to cancel the run', async () => {
    const { state } = await store.create(newRun('run_1'));
    const first = await store.checkpoint(state, { ...state, status: 'running' });
    expect(first.cancelRequested).toBe(false);
    await store.requestCancel('acme', 'run_1', 'the user closed the tab', 600);
    const second = await store.checkpoint(first.state, first.state);
    expect(second.cancelRequested).toBe(true);
    expect(await store.cancelReason('acme', 'run_1')).toBe('the user closed the tab');
    expect(await store.cancelReason('acme', 'run_2')).toBeUndefined();
  });

  it('never counts a replayed ledger entry twice', async () => {
    const { state } = await store.create(newRun('run_1'));
    const { state: once } = await store.checkpoint(state, state, { modelCall: call });
    await store.checkpoint(once, once, { modelCall: { ...call, costUsd: 99 } });
    expect(await store.loadModelCalls('acme', 'run_1')).toEqual([call]);
  });

  it('sets an expiry on every key of a finished run', async () => {
    const { state } = await store.create(newRun('run_1'));
    await store.checkpoint(
      state,
      { ...state, status: 'succeeded' },
      { expireSeconds: 60, appendTurns: [{ role: 'user', content: 'x' }], modelCall: call },
    );
    const keys = redis.keys.run('acme', 'run_1');
    for (const key of [keys.state, keys.turns, keys.ledger]) {
      const ttl = await redis.client.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
    }
  });

  it('reports a run that vanished as fenced, with no current version', async () => {
    const { state } = await store.create(newRun('run_1'));
    await redis.client.del(redis.keys.run('acme', 'run_1').state);
    await expect(store.checkpoint(state, state)).rejects.toMatchObject({ currentVersion: undefined });
  });
});
