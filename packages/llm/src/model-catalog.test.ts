import { describe, expect, it } from 'vitest';
import { createModelCatalog } from './model-catalog.ts';
import { scriptedEmbeddingModel } from './providers/scripted/scripted-embedding-model.ts';
import { scriptedModel } from './providers/scripted/scripted-model.ts';

describe('createModelCatalog', () => {
  it('resolves an OpenAI model once a key is configured, and reuses it', () => {
    const catalog = createModelCatalog({ openai: { apiKey: 'sk-test' } });
    const first = catalog.resolve('openai:gpt-4.1-mini');
    expect(first).toMatchObject({ ok: true, model: { provider: 'openai', modelId: 'gpt-4.1-mini' } });
    expect(catalog.resolve('openai:gpt-4.1-mini')).toEqual(first);
  });

  it('resolves each provider to its own adapter once configured', () => {
    const catalog = createModelCatalog({ anthropic: { apiKey: 'sk-ant' }, google: { apiKey: 'g-key' } });
    expect(catalog.resolve('anthropic:claude-sonnet-4-6')).toMatchObject({
      ok: true,
      model: { provider: 'anthropic' },
    });
    expect(catalog.resolve('google:gemini-2.5-flash')).toMatchObject({
      ok: true,
      model: { provider: 'google' },
    });
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
    expect(catalog.resolve('anthropic:claude-sonnet-4-6')).toEqual({
      ok: false,
      reason: 'anthropic:claude-sonnet-4-6 needs ANTHROPIC_API_KEY',
    });
    expect(catalog.resolve('google:gemini-2.5-flash')).toEqual({
      ok: false,
      reason: 'google:gemini-2.5-flash needs GEMINI_API_KEY',
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

  it('resolves embedding models on the same provider settings, and reuses them', () => {
    const catalog = createModelCatalog({ openai: { apiKey: 'sk-test' }, google: { apiKey: 'g-key' } });
    const openai = catalog.resolveEmbedding('openai:text-embedding-3-small');
    expect(openai).toMatchObject({
      ok: true,
      model: { provider: 'openai', modelId: 'text-embedding-3-small', maxValuesPerCall: 2048 },
    });
    expect(catalog.resolveEmbedding('openai:text-embedding-3-small')).toEqual(openai);
    expect(catalog.resolveEmbedding('google:gemini-embedding-001')).toMatchObject({
      ok: true,
      model: { provider: 'google', modelId: 'gemini-embedding-001', maxValuesPerCall: 100 },
    });
  });

  it('resolves the offline scripted:hashed embedding model without any key', () => {
    const catalog = createModelCatalog({});
    expect(catalog.resolveEmbedding('scripted:hashed')).toMatchObject({
      ok: true,
      model: { provider: 'scripted', modelId: 'hashed' },
    });
    expect(catalog.resolveEmbedding('scripted:hashed-64')).toMatchObject({
      ok: true,
      model: { modelId: 'hashed-64' },
    });
    expect(catalog.resolveEmbedding('scripted:research')).toEqual({
      ok: false,
      reason: 'scripted:research: the scripted embedding model is scripted:hashed',
    });
  });

  it('says what is missing for an embedding model it cannot make', () => {
    const catalog = createModelCatalog({ openai: {}, anthropic: { apiKey: 'sk-ant' } });
    expect(catalog.resolveEmbedding('openai:text-embedding-3-small')).toEqual({
      ok: false,
      reason: 'openai:text-embedding-3-small needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)',
    });
    expect(catalog.resolveEmbedding('google:gemini-embedding-001')).toEqual({
      ok: false,
      reason: 'google:gemini-embedding-001 needs GEMINI_API_KEY',
    });
    expect(catalog.resolveEmbedding('anthropic:claude-sonnet-4-6')).toEqual({
      ok: false,
      reason: 'anthropic:claude-sonnet-4-6: anthropic has no embedding models',
    });
    expect(catalog.resolveEmbedding('cohere:embed-v4')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown provider "cohere"'),
    });
  });

  it('passes embedding model objects through', () => {
    const model = scriptedEmbeddingModel({ dimensions: 8 });
    expect(createModelCatalog({}).resolveEmbedding(model)).toEqual({ ok: true, model });
  });
});
