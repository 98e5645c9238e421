import type { EmbedContentResponse, GoogleGenAI } from '@google/genai';
import type { EmbeddingModel, EmbedOptions, EmbedResult } from '@plainloop/contracts';
import { oneVectorPerValue, refuseOversizedBatch } from '../embedding-batch.ts';
import { withCallSignal } from './gemini-call-signal.ts';
import { type GeminiCallContext, runCapturingErrorHeaders, toLanguageModelError } from './gemini-errors.ts';

/**
 * The Gemini Developer API's embeddings on the EmbeddingModel spec, on the client made by
 * `createGeminiClient` (no SDK retries, error headers kept). For the Developer API the SDK's
 * `embedContent` always posts to `models/<model>:batchEmbedContents`, one request for all the values,
 * which the API caps at 100.
 */
export class GoogleEmbeddingModel implements EmbeddingModel {
  readonly provider = 'google';
  readonly modelId: string;
  readonly maxValuesPerCall = 100;
  readonly #client: GoogleGenAI;

  constructor(modelId: string, client: GoogleGenAI) {
    this.modelId = modelId;
    this.#client = client;
  }

  async doEmbed(options: EmbedOptions): Promise<EmbedResult> {
    const model = `${this.provider}:${this.modelId}`;
    // The SDK would send an empty batch, which the API refuses; nothing to embed costs nothing.
    if (options.values.length === 0) return { embeddings: [], usage: { inputTokens: 0 } };
    refuseOversizedBatch(options.values.length, this.maxValuesPerCall, model);
    const context: GeminiCallContext = { signal: options.signal };
    let response: EmbedContentResponse;
    try {
      response = await withCallSignal(options.signal, (callSignal) =>
        runCapturingErrorHeaders(context, () =>
          this.#client.models.embedContent({
            model: this.modelId,
            // One Content per value, not bare strings: for gemini-embedding-2 models the SDK folds a
            // list of strings into a single content, which comes back as a single vector.
            contents: options.values.map((text) => ({ role: 'user', parts: [{ text }] })),
            config: { abortSignal: callSignal, httpOptions: { timeout: options.timeoutMs } },
          }),
        ),
      );
    } catch (error) {
      throw toLanguageModelError(error, model, context);
    }
    // The API answers in the order of the requests; entries carry no index to check it by.
    const vectors = (response.embeddings ?? []).map((embedding) => embedding.values);
    return {
      embeddings: oneVectorPerValue(vectors, options.values.length, model),
      // Token counts, where the API gives them; an answer without them counts as 0, not as an error.
      usage: { inputTokens: response.usageMetadata?.promptTokenCount ?? 0 },
    };
  }
}
