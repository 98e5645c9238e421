import type { RunEvent } from '@plainloop/contracts';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunEventStream } from './run-event-stream.ts';

const started = (runId: string, at: number): RunEvent => ({
  type: 'run.started',
  runId,
  tenantId: 'acme',
  agent: 'research',
  at,
  attempt: 1,
});

describe('RunEventStream', () => {
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await useTestRedis();
  });
  afterEach(() => redis.close());

  it('appends each event to the run stream and the global stream', async () => {
    const stream = new RunEventStream(redis.client, redis.keys);
    await stream.publish(started('run_1', 1));
    await stream.publish(started('run_2', 2));
    const run = await stream.readRun('acme', 'run_1');
    expect(run.map((entry) => entry.event)).toEqual([started('run_1', 1)]);
    const global = await stream.readGlobal('0', 10);
    expect(global.map((entry) => entry.event.runId)).toEqual(['run_1', 'run_2']);
    const after = await stream.readRun('acme', 'run_1', run[0]?.id);
    expect(after).toEqual([]);
  });

  it('keeps and reads back every event of a run far longer than one page', async () => {
    const stream = new RunEventStream(redis.client, redis.keys);
    const pipeline = redis.client.pipeline();
    const runStream = redis.keys.run('acme', 'run_1').events;
    // 2,500 events, as a run of several hundred steps makes, written in one go.
    for (let index = 0; index < 2_500; index += 1)
      pipeline.xadd(runStream, '*', 'event', JSON.stringify(started('run_1', index)));
    await pipeline.exec();
    await stream.publish(started('run_1', 2_500));
    const all = await stream.readWholeRun('acme', 'run_1');
    expect(all).toHaveLength(2_501);
    expect(all.map(({ event }) => event.at)).toEqual(Array.from({ length: 2_501 }, (_, index) => index));
  });

  it('trims both streams so Redis memory stays bounded', async () => {
    const stream = new RunEventStream(redis.client, redis.keys, { perRun: 10, global: 10 });
    for (let index = 0; index < 500; index += 1) await stream.publish(started('run_1', index));
    // MAXLEN ~ trims whole macro-nodes, so the length stays near the limit, far below what was written.
    expect(await redis.client.xlen(redis.keys.events)).toBeLessThan(250);
    expect(await redis.client.xlen(redis.keys.run('acme', 'run_1').events)).toBeLessThan(250);
  });
});
