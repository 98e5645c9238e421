import type { FinishReason, GenerateOptions, GenerateResult, LanguageModel } from '@plainloop/contracts';
import OpenAI from 'openai';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { toLanguageModelError } from './openai-errors.ts';
import { toChatMessages, toChatTools } from './openai-messages.ts';

export type OpenAIProviderOptions = {
  apiKey?: string | undefined;
  /** Any OpenAI-compatible server: vLLM, Ollama, a gateway. Must end in `/v1` for OpenAI itself. */
  baseUrl?: string | undefined;
};

/**
 * One client per process, SDK retries off: the router owns retries (one owner per failure). A server
 * that needs no key (a local vLLM or Ollama) still needs a non-empty key for the SDK to construct.
 */
export function createOpenAIClient(options: OpenAIProviderOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? 'no-key',
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries: 0,
    logLevel: 'off',
  });
}

const finishReasons: Record<string, FinishReason> = {
  stop: 'stop',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  length: 'length',
  content_filter: 'content_filter',
};

/** The OpenAI Chat Completions API on the LanguageModel spec. */
export class OpenAIChatModel implements LanguageModel {
  readonly provider = 'openai';
  readonly modelId: string;
  readonly #client: OpenAI;

  constructor(modelId: string, client: OpenAI) {
    this.modelId = modelId;
    this.#client = client;
  }

  async doGenerate(options: GenerateOptions): Promise<GenerateResult> {
    const model = `${this.provider}:${this.modelId}`;
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.#client.chat.completions.create(
        {
          model: this.modelId,
          messages: toChatMessages(options.messages),
          ...(options.tools.length > 0
            ? { tools: toChatTools(options.tools), tool_choice: 'auto' as const }
            : {}),
          ...(options.responseSchema
            ? {
                response_format: {
                  type: 'json_schema' as const,
                  json_schema: {
                    name: options.responseSchema.name,
                    schema: options.responseSchema.schema,
                    strict: false,
                  },
                },
              }
            : {}),
          ...(options.maxOutputTokens ? { max_completion_tokens: options.maxOutputTokens } : {}),
        },
        { signal: options.signal, timeout: options.timeoutMs, maxRetries: 0 },
      );
    } catch (error) {
      throw toLanguageModelError(error, model);
    }
    const choice = completion.choices?.[0];
    if (!choice) {
      throw new LanguageModelError({ kind: 'server', message: 'the response had no choices', model });
    }
    // Some OpenAI-compatible servers leave the id out; results are matched by id, so one is made up.
    const toolCalls = (choice.message.tool_calls ?? []).flatMap((call, index) =>
      call.type === 'function'
        ? [
            {
              id: call.id || `call_${index}`,
              name: call.function.name,
              argumentsJson: call.function.arguments ?? '',
            },
          ]
        : [],
    );
    const usage = completion.usage;
    const refusal = choice.message.refusal;
    return {
      text: choice.message.content ?? refusal ?? '',
      toolCalls,
      finishReason:
        toolCalls.length > 0
          ? 'tool_calls'
          : refusal
            ? 'content_filter'
            : (finishReasons[choice.finish_reason] ?? 'other'),
      usage: {
        inputTokens: usage?.prompt_tokens ?? 0,
        cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
        outputTokens: usage?.completion_tokens ?? 0,
        reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
      },
      ...(completion.id ? { responseId: completion.id } : {}),
    };
  }
}
