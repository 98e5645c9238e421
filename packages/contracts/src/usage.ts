import { z } from 'zod';

const tokenCount = z.int().min(0);

/**
 * Token usage normalised across providers. `inputTokens` counts every prompt token, cached ones
 * included (`cachedInputTokens` is the part of it read from a cache); `outputTokens` counts every
 * generated token, reasoning included (`reasoningTokens` is the part spent thinking).
 * `cacheWriteTokens`, where a provider bills writing to its cache apart (Anthropic), is the part of
 * `inputTokens` written to the cache; absent means none. Adapters convert
 * each provider's own semantics into this one.
 */
export const Usage = z.object({
  inputTokens: tokenCount,
  cachedInputTokens: tokenCount,
  outputTokens: tokenCount,
  reasoningTokens: tokenCount,
  cacheWriteTokens: tokenCount.optional(),
});
export type Usage = z.infer<typeof Usage>;

export const emptyUsage: Usage = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

export function addUsage(left: Usage, right: Usage): Usage {
  return {
    inputTokens: left.inputTokens + right.inputTokens,
    cachedInputTokens: left.cachedInputTokens + right.cachedInputTokens,
    outputTokens: left.outputTokens + right.outputTokens,
    reasoningTokens: left.reasoningTokens + right.reasoningTokens,
    ...(left.cacheWriteTokens || right.cacheWriteTokens
      ? { cacheWriteTokens: (left.cacheWriteTokens ?? 0) + (right.cacheWriteTokens ?? 0) }
      : {}),
  };
}

export function totalTokens(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens;
}
