import { describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { hashedEmbedding, scriptedEmbeddingModel } from './scripted-embedding-model.ts';

function cosine(left: readonly number[], right: readonly number[]): number {
  return left.reduce((sum, value, index) => sum + value * (right[index] ?? 0), 0);
}

function lengthOf(vector: readonly number[]): number {
  return Math.sqrt(cosine(vector, vector));
}

describe('hashedEmbedding', () => {
  it('is deterministic, 256 numbers of unit length by default', () => {
    const vector = hashedEmbedding('The deploy failed on Friday');
    expect(vector).toEqual(hashedEmbedding('The deploy failed on Friday'));
    expect(vector).toHaveLength(256);
    expect(lengthOf(vector)).toBeCloseTo(1, 12);
    expect(hashedEmbedding('one two three', 32)).toHaveLength(32);
  });

  it('puts texts that share words closer than unrelated ones', () => {
    const deploy = hashedEmbedding('the deploy to production failed');
    const related = hashedEmbedding('why did the production deploy fail');
    const unrelated = hashedEmbedding('my favourite colour is green');
    expect(cosine(deploy, related)).toBeGreaterThan(cosine(deploy, unrelated));
    expect(cosine(deploy, related)).toBeGreaterThan(0.3);
  });

  it('reads words only: case and punctuation do not matter', () => {
    expect(hashedEmbedding('Hello, WORLD!')).toEqual(hashedEmbedding('hello world'));
    expect(hashedEmbedding('café 42')).not.toEqual(hashedEmbedding('caf 42'));
  });

  it('gives a text without words the zero vector and refuses a size that is not a positive integer', () => {
    expect(hashedEmbedding(' ?! ', 4)).toEqual([0, 0, 0, 0]);
    expect(() => hashedEmbedding('x', 0)).toThrow(RangeError);
    expect(() => scriptedEmbeddingModel({ dimensions: 1.5 })).toThrow(RangeError);
  });
});

describe('scriptedEmbeddingModel', () => {
  const signal = new AbortController().signal;

  it('embeds each value in order and counts a token per word', async () => {
    const model = scriptedEmbeddingModel();
    expect(model).toMatchObject({ provider: 'scripted', modelId: 'hashed' });
    const result = await model.doEmbed({ values: ['red car', 'blue sky today'], timeoutMs: 1_000, signal });
    expect(result.embeddings).toEqual([hashedEmbedding('red car'), hashedEmbedding('blue sky today')]);
    expect(result.usage).toEqual({ inputTokens: 5 });
  });

  it('names any other size in the model id, so vectors of two sizes are not mixed up', async () => {
    const model = scriptedEmbeddingModel({ dimensions: 64 });
    expect(model.modelId).toBe('hashed-64');
    const result = await model.doEmbed({ values: ['x'], timeoutMs: 1_000, signal });
    expect(result.embeddings[0]).toHaveLength(64);
  });

  it('refuses a call whose signal has already fired, as aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await scriptedEmbeddingModel()
      .doEmbed({ values: ['x'], timeoutMs: 1_000, signal: controller.signal })
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(LanguageModelError);
    expect(error).toMatchObject({ kind: 'aborted', model: 'scripted:hashed' });
  });
});
