import type { Message } from '@plainloop/contracts';
import { describe, expect, it } from 'vitest';
import { buildContext, ContextOverflowError, type ContextParts } from './build-context.ts';
import { messageTokens } from './token-count.ts';

const limits = {
  promptTokens: 400,
  toolOutputTokens: 60,
  recallTokens: 80,
  memoryTokens: 80,
  toolsTokens: 0,
};

function exchange(index: number): Message[] {
  return [
    { role: 'user', content: `question number ${index} about the weather in city ${index}` },
    {
      role: 'assistant',
      content: '',
      toolCalls: [{ id: `call-${index}`, name: 'weather', argumentsJson: `{"city":"c${index}"}` }],
    },
    {
      role: 'tool',
      toolCallId: `call-${index}`,
      toolName: 'weather',
      content: `sunny in c${index}`,
      isError: false,
    },
    { role: 'assistant', content: `It is sunny in city ${index}.`, toolCalls: [] },
  ];
}

function parts(overrides: Partial<ContextParts> = {}): ContextParts {
  return {
    instructions: 'You answer questions about the weather.',
    notes: [],
    facts: [],
    summary: undefined,
    history: [],
    input: 'And tomorrow?',
    turns: [],
    recalled: [],
    ...overrides,
  };
}

const total = (messages: readonly Message[]) =>
  messages.reduce((sum, message) => sum + messageTokens(message), 0);

describe('buildContext', () => {
  it('keeps a stable prefix: instructions, then facts and summary, then history, input and the run’s turns', () => {
    const built = buildContext(
      parts({
        facts: [{ key: 'user_name', value: 'Ada' }],
        summary: 'The user asked about Paris.',
        history: exchange(1),
      }),
      limits,
    );
    expect(built.messages.map((message) => message.role)).toEqual([
      'system',
      'system',
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
    ]);
    expect(built.messages[1]?.content).toContain('- user_name: Ada');
    expect(built.messages[1]?.content).toContain('The user asked about Paris.');
    expect(built.messages.at(-1)?.content).toBe('And tomorrow?');
    expect(built.tokens).toBe(total(built.messages));
  });

  it('never goes over the budget: older exchanges give way, whole, from the oldest', () => {
    const history = Array.from({ length: 30 }, (_, index) => exchange(index)).flat();
    const built = buildContext(parts({ history }), limits);
    expect(built.tokens).toBeLessThanOrEqual(limits.promptTokens);
    expect(total(built.messages)).toBe(built.tokens);
    expect(built.historyDropped).toBeGreaterThan(0);
    expect(built.historyDropped % 4).toBe(0);
    // The newest exchange is there, and what is kept starts at a user message.
    expect(built.messages.some((message) => message.content.includes('city 29'))).toBe(true);
    expect(built.messages[1]?.role).toBe('user');
  });

  it('cuts a tool output over its share with a visible marker', () => {
    const huge = 'lorem ipsum dolor sit amet '.repeat(200);
    const built = buildContext(
      parts({
        turns: [
          { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'fetch', argumentsJson: '{}' }] },
          { role: 'tool', toolCallId: 'c', toolName: 'fetch', content: huge, isError: false },
        ],
      }),
      limits,
    );
    const tool = built.messages.find((message) => message.role === 'tool');
    expect(tool?.content).toMatch(/\[… \d+ more tokens of this output were cut to fit the context window\]$/);
    expect(built.toolOutputsCut).toBe(1);
    expect(built.tokens).toBeLessThanOrEqual(limits.promptTokens);
  });

  it('adds recalled items, best first, up to their share', () => {
    const recalled = Array.from({ length: 20 }, (_, index) => ({
      text: `note ${index}: the user once lived in Lisbon for ${index} years`,
      score: 1 - index / 100,
    }));
    const built = buildContext(parts({ recalled }), limits);
    const input = built.messages.at(-1)?.content ?? '';
    expect(input).toContain('note 0:');
    expect(input.endsWith('And tomorrow?')).toBe(true);
    expect(built.recalledUsed).toBeGreaterThan(0);
    expect(built.recalledUsed).toBeLessThan(20);
  });

  it('counts everything it sends against the budget: recalled notes with their heading, and the tools', () => {
    const history = Array.from({ length: 30 }, (_, index) => exchange(index)).flat();
    const recalled = [{ text: 'the user once lived in Lisbon', score: 0.9 }];
    for (const promptTokens of [60, 120, 250, 400]) {
      for (const toolsTokens of [0, 30]) {
        const built = buildContext(parts({ history, recalled }), { ...limits, promptTokens, toolsTokens });
        expect(total(built.messages) + toolsTokens).toBe(built.tokens);
        expect(built.tokens).toBeLessThanOrEqual(promptTokens);
      }
    }
  });

  it('keeps the newest facts and a bounded summary when a thread’s memory outgrows its share', () => {
    const facts = Array.from({ length: 100 }, (_, index) => ({
      key: `fact_${index}`,
      value: `value ${index}`,
    }));
    const built = buildContext(parts({ facts, summary: 'long summary '.repeat(300) }), limits);
    const block = built.messages[1]?.content ?? '';
    expect(block).toContain('- fact_99: value 99');
    expect(block).not.toContain('- fact_0: value 0');
    expect(block).toMatch(/\(\d+ older facts not shown\)/);
    expect(block).toMatch(/more tokens of this output were cut/);
    expect(built.tokens).toBeLessThanOrEqual(limits.promptTokens);
  });

  it('cuts the tool outputs of a long run’s earlier steps, keeping its latest step whole', () => {
    const step = (index: number): Message[] => [
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: `c${index}`, name: 'fetch', argumentsJson: '{}' }],
      },
      {
        role: 'tool',
        toolCallId: `c${index}`,
        toolName: 'fetch',
        content: `page ${index} `.repeat(25),
        isError: false,
      },
    ];
    const turns = Array.from({ length: 5 }, (_, index) => step(index)).flat();
    const built = buildContext(parts({ turns }), limits);
    const tools = built.messages.filter((message) => message.role === 'tool');
    expect(tools.at(-1)?.content).toMatch(/^page 4 page 4/);
    expect(tools.at(-1)?.content.length).toBeGreaterThan(tools[0]?.content.length ?? 0);
    expect(tools[0]?.content).toMatch(/cut to fit the context window/);
    expect(built.tokens).toBeLessThanOrEqual(limits.promptTokens);
  });

  it('says so, in one structured error, when even the essentials do not fit', () => {
    const attempt = () => buildContext(parts({ instructions: 'be brief '.repeat(500) }), limits);
    expect(attempt).toThrow(ContextOverflowError);
    expect(attempt).toThrow(/over the 400 the model's context allows/);
  });
});
