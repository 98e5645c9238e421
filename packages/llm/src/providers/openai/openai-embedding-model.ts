import type { EmbeddingModel, EmbedOptions, EmbedResult } from '@plainloop/contracts';
import type OpenAI from 'openai';
import { oneVectorPerValue, refuseOversizedBatch } from '../embedding-batch.ts';
import { toLanguageModelError } from './openai-errors.ts';

/**
 * The OpenAI Embeddings API on the EmbeddingModel spec, on the client made by `createOpenAIClient`
 * (SDK retries off). `encoding_format` is left to the SDK on purpose: unasked, it requests base64
 * (float32, far smaller than JSON numbers) and decodes it itself, and it keeps plain float arrays
 * from an OpenAI-compatible server that ignores the request.
 */
export class OpenAIEmbeddingModel implements EmbeddingModel {
  readonly provider = 'openai';
  readonly modelId: string;
  readonly maxValuesPerCall = 2048;
  readonly #client: OpenAI;

  constructor(modelId: string, client: OpenAI) {
    this.modelId = modelId;
    this.#client = client;
  }

  async doEmbed(options: EmbedOptions): Promise<EmbedResult> {
    const model = `${this.provider}:${this.modelId}`;
    // The API refuses an empty input list; nothing to embed costs nothing.
    if (options.values.length === 0) return { embeddings: [], usage: { inputTokens: 0 } };
    refuseOversizedBatch(options.values.length, this.maxValuesPerCall, model);
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      response = await this.#client.embeddings.create(
        { model: this.modelId, input: [...options.values] },
        { signal: options.signal, timeout: options.timeoutMs, maxRetries: 0 },
      );
    } catch (error) {
      throw toLanguageModelError(error, model);
    }
    // Each item says which input it belongs to; the order of the list is not relied on.
    const byIndex = new Map((response.data ?? []).map((item) => [item.index, item.embedding]));
    const vectors = options.values.map((_, index) => byIndex.get(index));
    return {
      embeddings: oneVectorPerValue(vectors, options.values.length, model),
      usage: { inputTokens: response.usage?.prompt_tokens ?? 0 },
    };
  }
}
