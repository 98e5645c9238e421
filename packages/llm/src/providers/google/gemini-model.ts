import {
  FunctionCallingConfigMode,
  type GenerateContentConfig,
  type GenerateContentResponse,
  type GenerateContentResponseUsageMetadata,
  GoogleGenAI,
} from '@google/genai';
import type {
  FinishReason,
  GenerateOptions,
  GenerateResult,
  LanguageModel,
  Usage,
} from '@plainloop/contracts';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { withCallSignal } from './gemini-call-signal.ts';
import {
  fetchCapturingErrorHeaders,
  type GeminiCallContext,
  runCapturingErrorHeaders,
  toLanguageModelError,
} from './gemini-errors.ts';
import { textOf, toGeminiConversation, toolCallsOf } from './gemini-messages.ts';

export type GeminiProviderOptions = {
  apiKey?: string | undefined;
  /** A proxy or a fake server: the origin only, the SDK appends `/v1/models/...`. */
  baseUrl?: string | undefined;
};

/**
 * One client per process, for the Gemini Developer API. Everything is explicit so that the SDK's
 * environment variables (GOOGLE_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_API_VERSION,
 * GOOGLE_GEMINI_BASE_URL) cannot quietly change where calls go or which key they use. No
 * `retryOptions`: without them the SDK makes one request per call, and the router owns retries (one
 * owner per failure). The fetch keeps a failed response's headers, which the SDK's errors drop, so
 * `retry-after` can be read. A side effect: with its own fetch the SDK does not install its
 * no-timeout undici dispatcher, so undici's default 5-minute header and body limits stay in force as
 * a backstop behind the per-call timeout.
 */
export function createGeminiClient(options: GeminiProviderOptions): GoogleGenAI {
  return new GoogleGenAI({
    // A proxy in front may hold the real key; a placeholder still keeps the SDK off the environment.
    apiKey: options.apiKey ?? 'no-key',
    vertexai: false,
    apiVersion: 'v1',
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      fetch: fetchCapturingErrorHeaders,
    },
  });
}

const finishReasons: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  BLOCKLIST: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
};

/** Gemini counts thoughts apart from the answer; the runtime's output includes them. */
function usageOf(metadata: GenerateContentResponseUsageMetadata | undefined): Usage {
  const reasoningTokens = metadata?.thoughtsTokenCount ?? 0;
  return {
    inputTokens: metadata?.promptTokenCount ?? 0,
    cachedInputTokens: metadata?.cachedContentTokenCount ?? 0,
    outputTokens: (metadata?.candidatesTokenCount ?? 0) + reasoningTokens,
    reasoningTokens,
  };
}

/** The Gemini Developer API (`generateContent`) on the LanguageModel spec. */
export class GeminiModel implements LanguageModel {
  readonly provider = 'google';
  readonly modelId: string;
  readonly #client: GoogleGenAI;

  constructor(modelId: string, client: GoogleGenAI) {
    this.modelId = modelId;
    this.#client = client;
  }

  async doGenerate(options: GenerateOptions): Promise<GenerateResult> {
    const model = `${this.provider}:${this.modelId}`;
    const { systemInstruction, contents } = toGeminiConversation(options.messages, this.modelId);
    if (contents.length === 0) {
      // The SDK would refuse this itself, with a plain Error; say what is wrong in the runtime's terms.
      throw new LanguageModelError({
        kind: 'bad_request',
        message: 'the conversation has no user or assistant messages to send',
        model,
      });
    }
    const context: GeminiCallContext = { signal: options.signal };
    let response: GenerateContentResponse;
    try {
      response = await withCallSignal(options.signal, (callSignal) => {
        const config: GenerateContentConfig = {
          ...(systemInstruction ? { systemInstruction } : {}),
          ...(options.tools.length > 0
            ? {
                tools: [
                  {
                    functionDeclarations: options.tools.map((tool) => ({
                      name: tool.name,
                      description: tool.description,
                      parametersJsonSchema: tool.inputSchema,
                    })),
                  },
                ],
                toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.AUTO } },
              }
            : {}),
          ...(options.maxOutputTokens ? { maxOutputTokens: options.maxOutputTokens } : {}),
          ...(options.responseSchema
            ? { responseMimeType: 'application/json', responseJsonSchema: options.responseSchema.schema }
            : {}),
          abortSignal: callSignal,
          httpOptions: { timeout: options.timeoutMs },
          // A response with a continuation token would otherwise make the SDK send more requests on
          // its own; every request must be one the runtime made, counted and priced.
          automaticContinuation: false,
        };
        return runCapturingErrorHeaders(context, () =>
          this.#client.models.generateContent({ model: this.modelId, contents, config }),
        );
      });
    } catch (error) {
      throw toLanguageModelError(error, model, context);
    }
    const candidate = response.candidates?.[0];
    const blockReason = response.promptFeedback?.blockReason;
    if (!candidate && !blockReason) {
      throw new LanguageModelError({ kind: 'server', message: 'the response had no candidates', model });
    }
    const toolCalls = toolCallsOf(response, this.modelId);
    return {
      text: textOf(response),
      toolCalls,
      // Gemini ends a function-calling answer with STOP; the calls themselves say it is a tool turn.
      // A prompt blocked outright has no candidate, only the prompt feedback's reason.
      finishReason:
        toolCalls.length > 0
          ? 'tool_calls'
          : candidate
            ? (finishReasons[candidate.finishReason ?? ''] ?? 'other')
            : 'content_filter',
      usage: usageOf(response.usageMetadata),
      ...(response.responseId ? { responseId: response.responseId } : {}),
    };
  }
}
