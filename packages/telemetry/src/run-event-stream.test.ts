import type { RunEvent, RunState } from '@plainloop/contracts';
import { RunStore } from '@plainloop/redis';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventTextsOf, RunEventStream } from './run-event-stream.ts';

const started = (runId: string, at: number): RunEvent => ({
  type: 'run.started',
  runId,
  tenantId: 'acme',
  agent: 'research',
  at,
  attempt: 1,
});

function newRun(runId: string): RunState {
  return {
    runId,
    tenantId: 'acme',
    agent: 'research',
    input: 'x',
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

describe('RunEventStream', () => {
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await useTestRedis();
  });
  afterEach(() => redis.close());

  it('reads back the events checkpoints wrote, per run and across every shard', async () => {
    const store = new RunStore(redis.client, redis.keys);
    const stream = new RunEventStream(redis.client, redis.keys);
    const runs = ['run_1', 'run_2', 'run_3'].map(newRun);
    for (const run of runs) await store.create(run);
    await Promise.all(
      runs.map((run, index) => store.checkpoint(run, run, { events: [started(run.runId, 10 + index)] })),
    );
    const run = await stream.readRun('acme', 'run_1');
    expect(run.map((entry) => entry.event)).toEqual([started('run_1', 10)]);
    expect(await stream.readRun('acme', 'run_1', run[0]?.id)).toEqual([]);
    const first = await stream.readShards(stream.shardCursor('0'), 10);
    expect(first.events.map(({ event }) => event.runId)).toEqual(['run_1', 'run_2', 'run_3']);
    await store.checkpoint({ ...runs[1], version: 1 } as RunState, runs[1] as RunState, {
      events: [started('run_2', 20)],
    });
    const next = await stream.readShards(first.cursor, 10);
    expect(next.events.map(({ event }) => event)).toEqual([started('run_2', 20)]);
  });

  it('keeps and reads back every event of a run far longer than one page', async () => {
    const stream = new RunEventStream(redis.client, redis.keys);
    const pipeline = redis.client.pipeline();
    const runStream = redis.keys.run('acme', 'run_1').events;
    // 2,500 events, as a run of several hundred steps makes, written in one go.
    for (let index = 0; index < 2_500; index += 1)
      pipeline.xadd(runStream, '*', 'event', JSON.stringify(started('run_1', index)));
    await pipeline.exec();
    const all = await stream.readWholeRun('acme', 'run_1');
    expect(all).toHaveLength(2_500);
    expect(all.map(({ event }) => event.at)).toEqual(Array.from({ length: 2_500 }, (_, index) => index));
  });

  it('trims the run streams and the shard streams so Redis memory stays bounded', async () => {
    const store = new RunStore(redis.client, redis.keys, {
      calls: 'per-shard',
      maxWritesPerCall: 128,
      maxFlushesInFlight: 1,
      streamLengths: { run: 10, shard: 10 },
      replicaWaitMs: 0,
    });
    let { state } = await store.create(newRun('run_1'));
    for (let index = 0; index < 500; index += 1)
      ({ state } = await store.checkpoint(state, state, { events: [started('run_1', index)] }));
    // MAXLEN ~ trims whole macro-nodes, so the length stays near the limit, far below what was written.
    const shard = redis.keys.shard(redis.keys.run('acme', 'run_1').shard);
    expect(await redis.client.xlen(shard.events)).toBeLessThan(250);
    expect(await redis.client.xlen(redis.keys.run('acme', 'run_1').events)).toBeLessThan(250);
  });

  it('reads a shard entry of many events, a run stream entry of one, and nothing of a trimmed entry', () => {
    expect(eventTextsOf(['events', '{"a":1}\n{"b":2}'])).toEqual(['{"a":1}', '{"b":2}']);
    expect(eventTextsOf(['event', '{"a":1}'])).toEqual(['{"a":1}']);
    expect(eventTextsOf(null)).toEqual([]);
  });
});
