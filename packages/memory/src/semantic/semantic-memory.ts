import type { EmbeddingModel } from '@plainloop/contracts';
import type { MemoryItem, MemoryScope, ScoredItem, VectorStore } from './vector-store.ts';

export type SemanticMemoryOptions = {
  model: EmbeddingModel;
  store: VectorStore;
  timeoutMs: number;
};

/** Semantic memory: texts embedded by a provider's embedding model, found again by meaning. */
export class SemanticMemory {
  readonly #options: SemanticMemoryOptions;

  constructor(options: SemanticMemoryOptions) {
    this.#options = options;
  }

  /** Embeds and stores items (an item stored again under its id replaces the old one), in batches the model takes. */
  async remember(
    scope: MemoryScope,
    items: readonly MemoryItem[],
    signal: AbortSignal,
    options: { expireSeconds?: number } = {},
  ): Promise<void> {
    const { model, store, timeoutMs } = this.#options;
    const batch = model.maxValuesPerCall ?? 100;
    for (let start = 0; start < items.length; start += batch) {
      const slice = items.slice(start, start + batch);
      const { embeddings } = await model.doEmbed({
        values: slice.map((item) => item.text),
        timeoutMs,
        signal,
      });
      await store.add(
        scope,
        slice.map((item, index) => ({ ...item, vector: embeddings[index] ?? [] })),
        options,
      );
    }
  }

  /** The `limit` items nearest to `query` by cosine, best first. */
  async recall(scope: MemoryScope, query: string, limit: number, signal: AbortSignal): Promise<ScoredItem[]> {
    const { embeddings } = await this.#options.model.doEmbed({
      values: [query],
      timeoutMs: this.#options.timeoutMs,
      signal,
    });
    return this.#options.store.search(scope, embeddings[0] ?? [], limit);
  }
}
