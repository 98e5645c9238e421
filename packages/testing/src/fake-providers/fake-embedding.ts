/** How many numbers the fake servers' default embedding has; small, so a failing test prints it whole. */
export const fakeEmbeddingDimensions = 8;

/**
 * The fake servers' default embedding: deterministic and cheap, so a test can compute the vectors it
 * expects (testing must not import the adapters' own scripted embedding). Each character adds a value
 * that is not a round binary fraction, so a float32 wire encoding (OpenAI's base64) visibly rounds it.
 */
export function fakeEmbedding(text: string): number[] {
  const vector = new Array<number>(fakeEmbeddingDimensions).fill(0);
  [...text].forEach((character, position) => {
    const code = character.codePointAt(0) ?? 0;
    const slot = position % fakeEmbeddingDimensions;
    vector[slot] = (vector[slot] ?? 0) + ((code * 31 + position) % 101) / 101 - 0.5;
  });
  return vector;
}

/** The fake servers count one token per whitespace-separated word. */
export function fakeTokenCount(texts: readonly string[]): number {
  return texts.reduce((total, text) => total + text.split(/\s+/).filter(Boolean).length, 0);
}
