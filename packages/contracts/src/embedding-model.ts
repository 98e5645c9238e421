export type EmbedOptions = {
  /** The texts to embed, in order; each gets one vector, at the same index. */
  values: readonly string[];
  /** Per-attempt time limit; adapters pass it to their SDK. */
  timeoutMs: number;
  /** Aborts the call (cancellation, shutdown); adapters pass it to their SDK. */
  signal: AbortSignal;
};

export type EmbedResult = {
  /** One vector per value, in the order of `values`; all of one model's vectors have one length. */
  embeddings: number[][];
  /** Embeddings bill input only; a provider that does not report it gives 0. */
  usage: { inputTokens: number };
};

/**
 * The EmbeddingModel spec every embedding adapter implements, named like `doGenerate` so that
 * application code goes through the memory layer rather than calling it by accident. One call is one
 * request to the provider: adapters do not split or retry, so the caller owns batching, retries and
 * accounting. Adapters throw `LanguageModelError` (from `@plainloop/llm`) with a normalised kind. The
 * ref of a model is `modelRefOf(model)`, as for a LanguageModel.
 */
export interface EmbeddingModel {
  readonly provider: string;
  readonly modelId: string;
  /**
   * The most values one call may carry (the provider's batch limit); a caller with more splits them.
   * Adapters refuse a bigger call before sending it. Absent means no known limit.
   */
  readonly maxValuesPerCall?: number;
  doEmbed(options: EmbedOptions): Promise<EmbedResult>;
}
