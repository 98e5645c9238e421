import type { Message } from '@plainloop/contracts';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planSummary } from './summary-plan.ts';
import { ThreadQueue } from './thread-queue.ts';
import { ThreadStore } from './thread-store.ts';

const thread = { tenantId: 'acme', threadId: 'support-42' };
const exchange = (index: number): Message[] => [
  { role: 'user', content: `question ${index} ${'about the order and its delivery '.repeat(5)}` },
  {
    role: 'assistant',
    content: `answer ${index} ${'with the tracking number and the date '.repeat(5)}`,
    toolCalls: [],
  },
];

describe('ThreadStore', () => {
  let redis: TestRedis;
  let threads: ThreadStore;

  beforeEach(async () => {
    redis = await useTestRedis();
    threads = new ThreadStore(redis.client, redis.keys, { retentionSeconds: 3_600, keepTurns: 4 });
  });
  afterEach(() => redis.close());

  it('appends a run’s turns once, however often its finish is replayed, and never rewrites them', async () => {
    expect(await threads.append(thread, 'run-1', exchange(1))).toBe(true);
    expect(await threads.append(thread, 'run-1', exchange(1))).toBe(false);
    await threads.append(thread, 'run-2', exchange(2));
    const memory = await threads.load(thread);
    expect(memory.recent.map((message) => message.content.split(' ')[0])).toEqual([
      'question',
      'answer',
      'question',
      'answer',
    ]);
    expect(memory.recentFrom).toBe(0);
    const other = await threads.load({ tenantId: 'globex', threadId: 'support-42' });
    expect(other.recent).toEqual([]);
  });

  it('rolls the summary forward only, keeps facts through every summary, and trims summarized raw turns past the limit', async () => {
    for (let index = 1; index <= 5; index += 1) await threads.append(thread, `run-${index}`, exchange(index));
    await threads.remember(thread, { key: 'order_id', value: 'A-17' }, 1);
    expect(
      await threads.applySummary(thread, 6, 'the first three exchanges', [{ key: 'city', value: 'Oslo' }], 2),
    ).toBe(true);
    // A replayed, older summary changes nothing.
    expect(await threads.applySummary(thread, 4, 'stale', [], 3)).toBe(false);
    const memory = await threads.load(thread);
    expect(memory.summary).toBe('the first three exchanges');
    expect(memory.recentFrom).toBe(6);
    expect(memory.recent).toHaveLength(4);
    expect(memory.facts).toEqual([
      { key: 'order_id', value: 'A-17' },
      { key: 'city', value: 'Oslo' },
    ]);
    // 10 raw turns, 6 summarized, at most 4 kept: the 6 summarized ones are gone, the recent 4 stay.
    expect(await redis.client.llen(redis.keys.thread('acme', 'support-42').turns)).toBe(4);
    await threads.append(thread, 'run-6', exchange(6));
    const later = await threads.load(thread);
    expect(later.recent.map((message) => message.content.split(' ')[1])).toEqual([
      '4',
      '4',
      '5',
      '5',
      '6',
      '6',
    ]);
  });

  it('never lets a summary of older turns overwrite a fact the conversation settled since', async () => {
    for (let index = 1; index <= 3; index += 1) await threads.append(thread, `run-${index}`, exchange(index));
    await threads.remember(thread, { key: 'colour', value: 'red' }, 1);
    await threads.applySummary(thread, 4, 'early turns', [{ key: 'colour', value: 'teal' }], 2);
    expect((await threads.load(thread)).facts).toEqual([{ key: 'colour', value: 'red' }]);
    await threads.append(thread, 'run-4', exchange(4));
    await threads.applySummary(thread, 8, 'all turns', [{ key: 'colour', value: 'green' }], 3);
    expect((await threads.load(thread)).facts).toEqual([{ key: 'colour', value: 'green' }]);
  });

  it('lets the runs of a thread go one at a time, in the order they entered', async () => {
    const queue = new ThreadQueue(redis.client, redis.keys, 3_600);
    expect(await queue.enter(thread, 'run-a')).toBe(true);
    expect(await queue.enter(thread, 'run-b')).toBe(false);
    expect(await queue.enter(thread, 'run-a')).toBe(true);
    expect(await queue.leave(thread, 'run-a')).toBe('run-b');
    expect(await queue.enter(thread, 'run-b')).toBe(true);
  });
});

describe('planSummary', () => {
  const memoryOf = (recent: Message[]) => ({ summary: undefined, facts: [], recentFrom: 10, recent });

  it('folds nothing while the recent turns fit', () => {
    expect(planSummary(memoryOf(exchange(1)), 1_000)).toBeUndefined();
  });

  it('never folds a tool call away from its result', () => {
    const withTools = (index: number): Message[] => [
      { role: 'user', content: `look up order ${index} ${'please '.repeat(20)}` },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: `c${index}`, name: 'lookup', argumentsJson: '{}' }],
      },
      {
        role: 'tool',
        toolCallId: `c${index}`,
        toolName: 'lookup',
        content: 'shipped '.repeat(30),
        isError: false,
      },
      { role: 'assistant', content: `order ${index} has shipped`, toolCalls: [] },
    ];
    const recent = [1, 2, 3, 4, 5].flatMap(withTools);
    let planned = 0;
    for (const budget of [50, 120, 200, 300]) {
      const plan = planSummary(memoryOf(recent), budget);
      if (plan === undefined) continue;
      planned += 1;
      expect(plan.fold.length % 4).toBe(0);
      expect(recent[plan.fold.length]?.role ?? 'user').toBe('user');
    }
    expect(planned).toBeGreaterThan(1);
  });

  it('folds whole exchanges from the oldest until half the budget is left', () => {
    const recent = [1, 2, 3, 4, 5, 6].flatMap(exchange);
    const plan = planSummary(memoryOf(recent), 200);
    expect(plan).toBeDefined();
    expect((plan?.fold.length ?? 0) % 2).toBe(0);
    expect(plan?.fold[0]?.content).toMatch(/^question 1/);
    expect(plan?.through).toBe(10 + (plan?.fold.length ?? 0));
    expect(recent[plan?.fold.length ?? 0]?.role).toBe('user');
  });
});
