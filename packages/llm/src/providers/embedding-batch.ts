import { LanguageModelError } from '../errors/language-model-error.ts';

/**
 * Refuses, before any request, a call with more values than the provider takes in one: the caller
 * splits (it owns retries and accounting per call), and a clear error beats the provider's 400.
 */
export function refuseOversizedBatch(count: number, maxValuesPerCall: number, model: string): void {
  if (count <= maxValuesPerCall) return;
  throw new LanguageModelError({
    kind: 'bad_request',
    message: `${count} values in one call; ${model} takes at most ${maxValuesPerCall}, so split them`,
    model,
  });
}

/**
 * The vectors of a response, checked to be one per value: a vector stored against the wrong text
 * would be recalled for the wrong question without any error, so a short or holed answer is refused
 * as a (retryable) provider fault.
 */
export function oneVectorPerValue(
  vectors: ReadonlyArray<number[] | undefined>,
  count: number,
  model: string,
): number[][] {
  const complete = vectors.filter((vector): vector is number[] => Array.isArray(vector));
  if (vectors.length !== count || complete.length !== count) {
    throw new LanguageModelError({
      kind: 'server',
      message: `the response had ${complete.length} usable embeddings for ${count} values`,
      model,
    });
  }
  return complete;
}
