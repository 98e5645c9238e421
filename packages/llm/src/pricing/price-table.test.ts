import { describe, expect, it } from 'vitest';
import { costUsd, priceOf } from './price-table.ts';

describe('price table', () => {
  it('prices a known model and its dated snapshots', () => {
    expect(priceOf('openai:gpt-4.1-mini')).toEqual({ input: 0.4, cachedInput: 0.1, output: 1.6 });
    expect(priceOf('openai:gpt-4.1-mini-2025-04-14')).toEqual(priceOf('openai:gpt-4.1-mini'));
    expect(priceOf('anthropic:claude-sonnet-4-20250514')).toEqual(priceOf('anthropic:claude-sonnet-4'));
    expect(priceOf('openai:no-such-model')).toBeUndefined();
  });

  it('charges cached input at the cache rate and reasoning as output', () => {
    const usage = {
      inputTokens: 1_000_000,
      cachedInputTokens: 400_000,
      outputTokens: 100_000,
      reasoningTokens: 50_000,
    };
    // 600k uncached at $2 + 400k cached at $0.50 + 100k output at $8
    expect(costUsd(usage, { input: 2, cachedInput: 0.5, output: 8 })).toBeCloseTo(1.2 + 0.2 + 0.8, 10);
  });
});
