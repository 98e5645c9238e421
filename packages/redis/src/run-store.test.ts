import type { ModelCallRecord, RunEvent, RunState } from '@plainloop/contracts';
import { startReplyCuttingProxy, type TestRedis, useTestRedis } from '@plainloop/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient, type RedisConnection } from './create-redis-client.ts';
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

const event = (runId: string, type: 'run.started' | 'run.resumed' = 'run.started'): RunEvent =>
  type === 'run.started'
    ? { type, runId, tenantId: 'acme', agent: 'research', at: 2, attempt: 1 }
    : { type, runId, tenantId: 'acme', agent: 'research', at: 2, step: 0, attempt: 2 };

/** What Redis executed of a command since `before` (INFO commandstats), to tell how many calls a batch took. */
/** Script calls Redis has run, by EVALSHA or by EVAL (ioredis sends a script it has not sent before by EVAL). */
async function scriptCalls(redis: RedisConnection): Promise<number> {
  const text = String(await redis.call('INFO', 'commandstats'));
  const calls = (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(text)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

/** The events in a run's own stream (one per entry). */
async function runEvents(redis: TestRedis, runId: string): Promise<RunEvent[]> {
  const entries = await redis.client.xrange(redis.keys.run('acme', runId).events, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[1] as string) as RunEvent);
}

/** The events in every shard's stream (an entry holds a call's events of that shard, as JSON lines). */
async function shardEvents(redis: TestRedis): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for (const shard of redis.keys.shards)
    for (const [, fields] of await redis.client.xrange(shard.events, '-', '+'))
      for (const line of (fields[1] as string).split('\n')) all.push(JSON.parse(line) as RunEvent);
  return all;
}

describe('RunStore', () => {
  let redis: TestRedis;
  let store: RunStore;
  beforeEach(async () => {
    redis = await useTestRedis();
    store = new RunStore(redis.client, redis.keys);
  });
  afterEach(() => redis.close());

  it('commits the writes of many runs in one call, each fenced on its own', async () => {
    const runs = Array.from({ length: 20 }, (_, index) => newRun(`run_${index}`));
    for (const run of runs) await store.create(run);
    // Another worker took run_3 over (its version moved on): its old holder's write must fail alone.
    const { state: takenOver } = await store.checkpoint(runs[3] as RunState, {
      ...(runs[3] as RunState),
      attempt: 2,
    });
    const before = await scriptCalls(redis.client);
    const writes = runs.map((run) =>
      store.checkpoint(run, { ...run, status: 'running' }, { events: [event(run.runId)] }).then(
        (written) => written.state.version,
        (error: unknown) => error,
      ),
    );
    const outcomes = await Promise.all(writes);
    expect(await scriptCalls(redis.client)).toBe(before + 1);
    expect(outcomes[3]).toBeInstanceOf(RunFencedError);
    expect(outcomes[3]).toMatchObject({ expectedVersion: 0, currentVersion: 1 });
    expect(outcomes.filter((outcome) => outcome === 1)).toHaveLength(19);
    expect(await store.load('acme', 'run_3')).toEqual(takenOver);
    expect(await store.load('acme', 'run_4')).toMatchObject({ status: 'running', version: 1 });
    // The fenced write's event did not land; every other one did, in its run's stream and its shard's.
    expect(await runEvents(redis, 'run_3')).toEqual([]);
    expect(await runEvents(redis, 'run_4')).toEqual([event('run_4')]);
    expect((await shardEvents(redis)).map((each) => each.runId).sort()).toEqual(
      runs
        .filter((run) => run.runId !== 'run_3')
        .map((run) => run.runId)
        .sort(),
    );
  });

  it('lands every write of a call once when the connection drops after Redis ran it, reply unread', async () => {
    const proxy = await startReplyCuttingProxy(redis.url);
    const client = createRedisClient(proxy.url, 'worker', 'cut', { autoPipelining: true });
    try {
      const cutStore = new RunStore(client, redis.keys);
      await store.create(newRun('run_a'));
      await store.create(newRun('run_b'));
      proxy.cutReplyTo('write-of-run-b');
      const [first, second] = await Promise.all([
        cutStore.checkpoint(
          newRun('run_a'),
          { ...newRun('run_a'), status: 'running' },
          {
            events: [event('run_a')],
            writeId: 'write-of-run-a',
          },
        ),
        cutStore.checkpoint(
          newRun('run_b'),
          { ...newRun('run_b'), status: 'running' },
          {
            events: [event('run_b')],
            writeId: 'write-of-run-b',
          },
        ),
      ]);
      expect(proxy.cuts()).toBe(1);
      expect(first.state).toMatchObject({ runId: 'run_a', version: 1 });
      expect(second.state).toMatchObject({ runId: 'run_b', version: 1 });
      expect(await store.load('acme', 'run_b')).toMatchObject({ status: 'running', version: 1 });
      // Sent twice, counted once: the script knew its own writes the second time.
      expect(await runEvents(redis, 'run_a')).toHaveLength(1);
      expect(await runEvents(redis, 'run_b')).toHaveLength(1);
      expect(await shardEvents(redis)).toHaveLength(2);
    } finally {
      await closeRedisClient(client);
      await proxy.close();
    }
  });

  it('resends a checkpoint its pipelined connection dropped half answered, and it lands once', async () => {
    // The worker's step machine pipelines: commands sent in one tick go in one batch, and ioredis fails
    // the unanswered rest of a batch whose connection closes, instead of sending it again.
    const pipelined = createRedisClient(redis.url, 'worker', 'pipelined', { autoPipelining: true });
    try {
      const firstStore = new RunStore(pipelined, redis.keys);
      const secondStore = new RunStore(pipelined, redis.keys);
      await store.create(newRun('run_a'));
      await store.create(newRun('run_b'));
      // One batch: a checkpoint Redis answers, a command that blocks for a second, another checkpoint.
      const first = firstStore.checkpoint(newRun('run_a'), { ...newRun('run_a'), status: 'running' });
      let blocked: Promise<unknown> | undefined;
      let second: Promise<unknown> | undefined;
      setImmediate(() => {
        blocked = pipelined.blpop('nothing-comes', 1).catch((error: Error) => error);
        second = secondStore.checkpoint(newRun('run_b'), { ...newRun('run_b'), status: 'running' });
      });
      await new Promise((resolve) => setTimeout(resolve, 150));
      // The connection's socket, dropped as a network would: a single Redis's, which this test runs on.
      if (!(pipelined instanceof Redis)) throw new Error('this test drops the socket of a single Redis');
      pipelined.stream.destroy();
      expect(await blocked).toMatchObject({ name: 'AbortError' });
      expect((await first).state).toMatchObject({ runId: 'run_a', version: 1 });
      expect(await second).toMatchObject({ state: { runId: 'run_b', status: 'running', version: 1 } });
      expect(await store.load('acme', 'run_b')).toMatchObject({ status: 'running', version: 1 });
    } finally {
      await closeRedisClient(pipelined);
    }
  });

  it('sends only the parts of the state a checkpoint changes', async () => {
    const { state } = await store.create(newRun('run_1'));
    const key = redis.keys.run('acme', 'run_1').state;
    // Planted beside the state: a checkpoint that does not change the input must leave it alone.
    await redis.client.hset(key, 'input', JSON.stringify({ topic: 'planted' }));
    const { state: running } = await store.checkpoint(state, { ...state, status: 'running' });
    expect(await redis.client.hget(key, 'input')).toBe(JSON.stringify({ topic: 'planted' }));
    expect(await redis.client.hget(key, 'status')).toBe('"running"');
    const { waitingUntil: _none, ...withoutWait } = { ...running, waitingUntil: 5 };
    const { state: waiting } = await store.checkpoint(running, { ...running, waitingUntil: 5 });
    await store.checkpoint(waiting, withoutWait);
    expect(await redis.client.hexists(key, 'waitingUntil')).toBe(0);
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

  it('keeps text in any script byte for byte, and a write of more turns than one command takes', async () => {
    const { state } = await store.create(newRun('run_1'));
    const text = 'naïve café, 東京, Ελληνικά, 👩‍💻 and a lone \ud800 surrogate';
    const turns = Array.from({ length: 2_500 }, (_, index) => ({
      role: 'assistant' as const,
      content: `${index}: ${text}`,
      toolCalls: [],
    }));
    const { state: written } = await store.checkpoint(
      state,
      { ...state, output: { text } },
      { appendTurns: turns, events: [event('run_1')] },
    );
    expect(await store.load('acme', 'run_1')).toEqual(written);
    expect((await store.load('acme', 'run_1'))?.output).toEqual({ text });
    expect(await store.loadTurns('acme', 'run_1')).toEqual(turns);
    expect(await runEvents(redis, 'run_1')).toEqual([event('run_1')]);
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

  it('moves a run kept in the layout before shards on first touch, and goes on from its version', async () => {
    // Written as the version before shards wrote it: the state as one JSON field, the run's own hash tag.
    const legacy = redis.keys.legacy.run('acme', 'run_old');
    const stored: RunState = { ...newRun('run_old'), status: 'running', step: 2, version: 7, attempt: 1 };
    await redis.client.hset(legacy.state, 'version', 7, 'state', JSON.stringify(stored), 'writeId', 'w');
    await redis.client.pexpire(legacy.state, 600_000);
    await redis.client.rpush(legacy.turns, JSON.stringify({ role: 'user', content: 'hello' }));
    await redis.client.hset(legacy.ledger, call.callId, JSON.stringify(call));
    await redis.client.xadd(legacy.events, '*', 'event', JSON.stringify(event('run_old')));
    await redis.client.zadd(redis.keys.legacy.runIndex('acme'), 1, 'run_old');
    await redis.client.xadd(redis.keys.legacy.events, '*', 'event', JSON.stringify(event('run_old')));
    const upgraded = new RunStore(redis.client, redis.keys);

    const { runs } = await upgraded.page('acme', { scan: 10 });
    expect(runs.map((run) => run.runId)).toEqual(['run_old']);
    expect(await upgraded.load('acme', 'run_old')).toEqual(stored);
    expect(await redis.client.exists(legacy.state, legacy.turns, legacy.ledger, legacy.events)).toBe(0);
    expect(await upgraded.loadTurns('acme', 'run_old')).toEqual([{ role: 'user', content: 'hello' }]);
    expect(await upgraded.loadModelCalls('acme', 'run_old')).toEqual([call]);
    expect(await runEvents(redis, 'run_old')).toEqual([event('run_old')]);
    const ttl = await redis.client.pttl(redis.keys.run('acme', 'run_old').state);
    expect(ttl).toBeGreaterThan(500_000);
    const { state: next } = await upgraded.checkpoint(stored, { ...stored, step: 3 });
    expect(next.version).toBe(8);
    expect((await upgraded.page('acme', { scan: 10 })).runs).toEqual([next]);
    // A worker taking the run up finds it where it was, with its transcript.
    const opened = await upgraded.open(newRun('run_old'), { withTurns: true });
    expect(opened).toMatchObject({
      created: false,
      state: next,
      turns: [{ role: 'user', content: 'hello' }],
    });
  });

  it("lists a tenant's runs newest first across shards, a page at a time", async () => {
    for (let index = 0; index < 25; index += 1)
      await store.create({ ...newRun(`run_${String(index).padStart(2, '0')}`), createdAt: 100 + index });
    const first = await store.page('acme', { scan: 10 });
    expect(first.runs.map((run) => run.createdAt)).toEqual(
      Array.from({ length: 10 }, (_, index) => 124 - index),
    );
    expect(first.exhausted).toBe(false);
    const last = first.runs.at(-1) as RunState;
    const second = await store.page('acme', { after: last, scan: 20 });
    expect(second.runs.map((run) => run.createdAt)).toEqual(
      Array.from({ length: 15 }, (_, index) => 114 - index),
    );
    expect(second.exhausted).toBe(true);
    expect((await store.page('other', { scan: 10 })).runs).toEqual([]);
  });
});
