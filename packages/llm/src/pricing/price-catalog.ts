import { readFile } from 'node:fs/promises';
import type { ModelRef, Usage } from '@plainloop/contracts';
import { calcPrice, type Provider } from '@pydantic/genai-prices';
import { z } from 'zod';

const Price = z.strictObject({
  /** USD per 1M uncached input tokens. */
  input: z.number().min(0),
  /** USD per 1M input tokens read from a cache; the input price when absent. */
  cachedInput: z.number().min(0).optional(),
  /** USD per 1M input tokens written to a cache, where the provider bills that apart; the input price when absent. */
  cacheWrite: z.number().min(0).optional(),
  /** USD per 1M output tokens (reasoning included). */
  output: z.number().min(0),
  /** The model's context window in tokens, where the catalogue does not know it or you cap it. */
  contextWindow: z.int().positive().optional(),
});

/** A user's price file: per-1M prices by `provider:model`, and the date they were read. */
export const PriceFile = z.strictObject({
  asOf: z.iso.date(),
  models: z.record(z.string().regex(/^[a-z][a-z0-9-]*:\S+$/, 'keys are provider:model'), Price),
});
export type PriceFile = z.infer<typeof PriceFile>;

export type PriceQuote = {
  costUsd: number;
  /** False when no price is known: the cost is 0 and must be shown as incomplete, never as free. */
  known: boolean;
  /** Where the price came from: the user's file, or the maintained genai-prices data. */
  source: 'prices-file' | 'genai-prices' | 'none';
};

/** The maintained catalogue bundled with plainloop: @pydantic/genai-prices, its data as published. */
export const bundledPriceSource = '@pydantic/genai-prices 0.1.8 (data published 2026-09-23)';

/** Usage as the catalogue's arithmetic needs it: the cached and cache-written parts never above the input. */
function partsOf(usage: Usage) {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  return { cached, written, uncached: usage.inputTokens - cached - written };
}

function quoteFromFile(price: z.infer<typeof Price>, usage: Usage): number {
  const { cached, written, uncached } = partsOf(usage);
  const perMillion =
    uncached * price.input +
    cached * (price.cachedInput ?? price.input) +
    written * (price.cacheWrite ?? price.input) +
    usage.outputTokens * price.output;
  return perMillion / 1_000_000;
}

/**
 * What a model call cost. Prices come first from the user's file (`PLAINLOOP_PRICES_FILE`), then from
 * @pydantic/genai-prices, a maintained catalogue that knows tiered and cached prices and dated model
 * snapshots. A model neither knows is quoted at 0 with `known: false`, so the caller can flag it.
 */
export function createPriceCatalog(file?: PriceFile) {
  /**
   * Per model: the catalogue's provider narrowed to that model's entry, to price it with, or null when
   * the catalogue does not know the model at all. Looked up once: matching a model among its provider's
   * took tens of microseconds a call, more than the rest of a step.
   */
  const catalogued = new Map<ModelRef, Provider | null>();
  function providerOf(model: ModelRef): Provider | null {
    const known = catalogued.get(model);
    if (known !== undefined) return known;
    const separator = model.indexOf(':');
    let found: Provider | null = null;
    try {
      const probe = calcPrice({ input_tokens: 0, output_tokens: 0 }, model.slice(separator + 1), {
        providerId: model.slice(0, separator),
      });
      found = probe ? { ...probe.provider, models: [probe.model], fallback_model_providers: [] } : null;
    } catch {
      found = null;
    }
    catalogued.set(model, found);
    return found;
  }

  function quote(model: ModelRef, usage: Usage): PriceQuote {
    const fromFile = file?.models[model];
    if (fromFile) return { costUsd: quoteFromFile(fromFile, usage), known: true, source: 'prices-file' };
    const provider = providerOf(model);
    if (provider === null) return { costUsd: 0, known: false, source: 'none' };
    const { cached, written } = partsOf(usage);
    let calculated: ReturnType<typeof calcPrice>;
    try {
      calculated = calcPrice(
        {
          input_tokens: usage.inputTokens,
          cache_read_tokens: cached,
          cache_write_tokens: written,
          output_tokens: usage.outputTokens,
        },
        model.slice(model.indexOf(':') + 1),
        { provider },
      );
    } catch {
      // The catalogue refuses usage it finds inconsistent; pricing must never cost the answer itself.
      calculated = null;
    }
    if (calculated === null) return { costUsd: 0, known: false, source: 'none' };
    return { costUsd: calculated.total_price, known: true, source: 'genai-prices' };
  }

  /** The model's context window, from the price file or the catalogue; undefined when neither knows it. */
  function contextWindowOf(model: ModelRef): number | undefined {
    const fromFile = file?.models[model]?.contextWindow;
    if (fromFile !== undefined) return fromFile;
    return providerOf(model)?.models[0]?.context_window;
  }

  return {
    quote,
    contextWindowOf,
    knows: (model: ModelRef) =>
      quote(model, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 }).known,
  };
}

export type PriceCatalog = ReturnType<typeof createPriceCatalog>;

export async function loadPriceFile(path: string): Promise<PriceFile> {
  const parsed = PriceFile.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`the prices file ${path} does not fit: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
