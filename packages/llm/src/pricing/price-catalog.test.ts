import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPriceCatalog, loadPriceFile } from './price-catalog.ts';

const usage = {
  inputTokens: 1_000_000,
  cachedInputTokens: 400_000,
  outputTokens: 100_000,
  reasoningTokens: 50_000,
};

describe('price catalogue', () => {
  it('prices known models from the maintained catalogue, cached input at the cache rate', () => {
    const catalog = createPriceCatalog();
    // gpt-4.1-mini: 600k uncached at $0.40, 400k cached at $0.10, 100k output at $1.60 per 1M.
    expect(catalog.quote('openai:gpt-4.1-mini', usage)).toEqual({
      costUsd: expect.closeTo(0.24 + 0.04 + 0.16, 9),
      known: true,
      source: 'genai-prices',
    });
    expect(catalog.quote('anthropic:claude-sonnet-4-20250514', usage).known).toBe(true);
    expect(catalog.quote('google:gemini-2.5-flash', usage).known).toBe(true);
  });

  it('charges writing to a cache above plain input, where the provider does', () => {
    const catalog = createPriceCatalog();
    const plain = { inputTokens: 1_000_000, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };
    const written = catalog.quote('anthropic:claude-sonnet-4-20250514', {
      ...plain,
      cacheWriteTokens: 1_000_000,
    });
    expect(written.costUsd).toBeGreaterThan(
      catalog.quote('anthropic:claude-sonnet-4-20250514', plain).costUsd,
    );
  });

  it('prices usage a provider reported inconsistently (more cached than input) instead of throwing', () => {
    const odd = { inputTokens: 10, cachedInputTokens: 20, outputTokens: 5, reasoningTokens: 0 };
    expect(createPriceCatalog().quote('openai:gpt-4.1-mini', odd).known).toBe(true);
  });

  it('flags a model nobody has a price for instead of calling it free', () => {
    expect(createPriceCatalog().quote('openai:gpt-9-ultra', usage)).toEqual({
      costUsd: 0,
      known: false,
      source: 'none',
    });
    expect(createPriceCatalog().knows('openai:gpt-9-ultra')).toBe(false);
  });

  it('lets a user file override and extend the catalogue', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plainloop-prices-'));
    const path = join(directory, 'prices.json');
    await writeFile(
      path,
      JSON.stringify({
        asOf: '2026-11-25',
        models: {
          'openai:gpt-9-ultra': { input: 10, output: 30 },
          'openai:gpt-4.1-mini': { input: 1, output: 1 },
        },
      }),
    );
    const catalog = createPriceCatalog(await loadPriceFile(path));
    expect(catalog.quote('openai:gpt-9-ultra', usage)).toEqual({
      costUsd: expect.closeTo(10 + 3, 9),
      known: true,
      source: 'prices-file',
    });
    expect(catalog.quote('openai:gpt-4.1-mini', usage).costUsd).toBeCloseTo(1 + 0.1, 9);
  });

  it('says which field of a bad prices file is wrong', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plainloop-prices-'));
    const path = join(directory, 'prices.json');
    await writeFile(path, JSON.stringify({ asOf: 'yesterday', models: {} }));
    await expect(loadPriceFile(path)).rejects.toThrow(/prices file .* does not fit: asOf: /);
  });
});
