import { describe, expect, it } from 'vitest';
import { createModelCatalog } from './model-catalog.ts';
import { scriptedModel } from './providers/scripted/scripted-model.ts';

describe('createModelCatalog', () => {
  it('resolves an OpenAI model once a key is configured, and reuses it', () => {
    const catalog = createModelCatalog({ openai: { apiKey: 'sk-test' } });
    const first = catalog.resolve('openai:gpt-4.1-mini');
    expect(first).toMatchObject({ ok: true, model: { provider: 'openai', modelId: 'gpt-4.1-mini' } });
    expect(catalog.resolve('openai:gpt-4.1-mini')).toEqual(first);
  });

  it('accepts a keyless OpenAI-compatible server named by its base URL', () => {
    const catalog = createModelCatalog({ openai: { baseUrl: 'http://127.0.0.1:11434/v1' } });
    expect(catalog.resolve('openai:llama3').ok).toBe(true);
  });

  it('says which variable is missing for an unconfigured provider', () => {
    const catalog = createModelCatalog({ openai: {} });
    expect(catalog.resolve('openai:gpt-4.1')).toEqual({
      ok: false,
      reason: 'openai:gpt-4.1 needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)',
    });
    expect(catalog.resolve('mistral:large')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown provider'),
    });
  });

  it('passes model objects through', () => {
    const model = scriptedModel({ name: 'x', script: () => ({ text: 'hi' }) });
    expect(createModelCatalog({ openai: {} }).resolve(model)).toEqual({ ok: true, model });
  });
});
