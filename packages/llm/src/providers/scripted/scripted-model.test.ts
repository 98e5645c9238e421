import type { GenerateOptions, Message } from '@plainloop/contracts';
import { describe, expect, it } from 'vitest';
import { scriptedModel } from './scripted-model.ts';

const model = scriptedModel({
  name: 'echo',
  pricedAs: 'openai:gpt-4.1-mini',
  script: ({ turn, input, toolResults }) =>
    turn === 0
      ? { toolCalls: [{ name: 'search', arguments: { query: (input as { topic: string }).topic } }] }
      : { text: `found ${JSON.stringify(toolResults.get('search'))}` },
});

const options = (messages: Message[]): GenerateOptions => ({
  messages,
  tools: [],
  timeoutMs: 1_000,
  signal: new AbortController().signal,
});

describe('scriptedModel', () => {
  it('is labelled scripted and answers the same conversation the same way', async () => {
    expect(`${model.provider}:${model.modelId}`).toBe('scripted:echo');
    const first = await model.doGenerate(options([{ role: 'user', content: '{"topic":"redis"}' }]));
    const again = await model.doGenerate(options([{ role: 'user', content: '{"topic":"redis"}' }]));
    expect(first).toEqual(again);
    expect(first.toolCalls).toEqual([{ id: 'call_0_0', name: 'search', argumentsJson: '{"query":"redis"}' }]);
    expect(first.finishReason).toBe('tool_calls');
    expect(first.usage.inputTokens).toBeGreaterThan(0);
  });

  it('sees the turn and the latest tool results', async () => {
    const result = await model.doGenerate(
      options([
        { role: 'user', content: '{"topic":"redis"}' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'call_0_0', name: 'search', argumentsJson: '{}' }],
        },
        { role: 'tool', toolCallId: 'call_0_0', toolName: 'search', content: '["a"]', isError: false },
      ]),
    );
    expect(result).toMatchObject({ text: 'found ["a"]', finishReason: 'stop', toolCalls: [] });
  });
});
