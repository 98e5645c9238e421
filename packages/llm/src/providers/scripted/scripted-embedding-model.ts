import type { EmbeddingModel, EmbedOptions, EmbedResult } from '@plainloop/contracts';
import { LanguageModelError } from '../../errors/language-model-error.ts';

const defaultDimensions = 256;

/** 32-bit FNV-1a over the UTF-8 bytes: tiny, fast and well spread, and the same on every machine. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash;
}

function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * A bag-of-words vector by the hashing trick: each word adds ±1 to one of `dimensions` slots (the
 * slot from the low bits of its hash, the sign from the top bit, so that two words sharing a slot
 * tend to cancel rather than pile up), then the vector is scaled to unit length. Texts that share
 * words are close by cosine; it knows nothing of meaning ("car" and "automobile" are unrelated). A
 * text without words is the zero vector, close to nothing.
 */
export function hashedEmbedding(text: string, dimensions = defaultDimensions): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1) {
    throw new RangeError(`dimensions must be a positive integer, not ${dimensions}`);
  }
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of wordsOf(text)) {
    const hash = fnv1a(word);
    const slot = hash % dimensions;
    vector[slot] = (vector[slot] ?? 0) + (hash >>> 31 === 1 ? -1 : 1);
  }
  const length = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  return length === 0 ? vector : vector.map((value) => value / length);
}

export type ScriptedEmbeddingModelOptions = {
  /** 256 unless set; the model id names any other size, so vectors of two sizes are never mixed up. */
  dimensions?: number;
};

/**
 * An offline, deterministic embedding model for the demo and tests (`scripted:hashed`): no key, no
 * network, the same vector for the same text on every run. Usage counts one token per word.
 */
export function scriptedEmbeddingModel(options: ScriptedEmbeddingModelOptions = {}): EmbeddingModel {
  const dimensions = options.dimensions ?? defaultDimensions;
  const modelId = dimensions === defaultDimensions ? 'hashed' : `hashed-${dimensions}`;
  // Refuses a bad size when the model is made, not at its first call.
  hashedEmbedding('', dimensions);
  return {
    provider: 'scripted',
    modelId,
    async doEmbed({ values, signal }: EmbedOptions): Promise<EmbedResult> {
      if (signal.aborted) {
        throw new LanguageModelError({
          kind: 'aborted',
          message: 'the call was aborted',
          model: `scripted:${modelId}`,
        });
      }
      return {
        embeddings: values.map((text) => hashedEmbedding(text, dimensions)),
        usage: { inputTokens: values.reduce((total, text) => total + wordsOf(text).length, 0) },
      };
    },
  };
}
