import Anthropic from '@anthropic-ai/sdk';
import type {
  FinishReason,
  GenerateOptions,
  GenerateResult,
  LanguageModel,
  ToolCall,
  Usage,
} from '@plainloop/contracts';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { toLanguageModelError } from './anthropic-errors.ts';
import { toAnthropicConversation, toAnthropicTools } from './anthropic-messages.ts';

export type AnthropicProviderOptions = {
  apiKey?: string | undefined;
  /** A gateway or proxy in front of the API; without `/v1`, which the SDK adds itself. */
  baseUrl?: string | undefined;
};

/** The Messages API requires a limit; this one stays far below the SDK's non-streaming guard. */
const defaultMaxOutputTokens = 4096;

/**
 * One client per process, SDK retries off: the router owns retries (one owner per failure). The key is
 * always passed, because SDK 1.x without one goes looking for credentials on the first request
 * (profiles in the config directory, workload identity); a gateway that adds the key itself still
 * gets a placeholder.
 */
export function createAnthropicClient(options: AnthropicProviderOptions): Anthropic {
  return new Anthropic({
    apiKey: options.apiKey ?? 'no-key',
    ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    maxRetries: 0,
    logLevel: 'off',
  });
}

const finishReasons: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
};

/**
 * Anthropic's `input_tokens` leaves out tokens read from or written to the cache, while the runtime's
 * usage counts every prompt token; its `output_tokens` already includes thinking. The SDK types call
 * every field present, but the API has added them over time, so each may be missing.
 */
function toUsage(usage: Partial<Anthropic.Messages.Usage> | undefined): Usage {
  const cacheRead = usage?.cache_read_input_tokens ?? 0;
  const cacheWrite = usage?.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (usage?.input_tokens ?? 0) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    outputTokens: usage?.output_tokens ?? 0,
    reasoningTokens: usage?.output_tokens_details?.thinking_tokens ?? 0,
    // Writing to the cache is billed above the input price; the price catalogue needs it apart.
    ...(cacheWrite > 0 ? { cacheWriteTokens: cacheWrite } : {}),
  };
}

function toToolCalls(content: readonly Anthropic.Messages.ContentBlock[]): ToolCall[] {
  return content
    .filter((block) => block.type === 'tool_use')
    .map((block, index) => ({
      // Results are matched by id, so a call without one gets one made up.
      id: block.id || `toolu_${index}`,
      name: block.name,
      argumentsJson: JSON.stringify(block.input ?? {}),
    }));
}

/** The Anthropic Messages API on the LanguageModel spec. */
export class AnthropicMessagesModel implements LanguageModel {
  readonly provider = 'anthropic';
  readonly modelId: string;
  readonly #client: Anthropic;

  constructor(modelId: string, client: Anthropic) {
    this.modelId = modelId;
    this.#client = client;
  }

  async doGenerate(options: GenerateOptions): Promise<GenerateResult> {
    const model = `${this.provider}:${this.modelId}`;
    const { system, messages } = toAnthropicConversation(options.messages, options.tools.length > 0);
    let message: Anthropic.Messages.Message;
    try {
      message = await this.#client.messages.create(
        {
          model: this.modelId,
          max_tokens: options.maxOutputTokens ?? defaultMaxOutputTokens,
          messages,
          ...(system === undefined ? {} : { system }),
          ...(options.tools.length > 0
            ? { tools: toAnthropicTools(options.tools), tool_choice: { type: 'auto' as const } }
            : {}),
          ...(options.responseSchema
            ? {
                output_config: {
                  format: { type: 'json_schema' as const, schema: options.responseSchema.schema },
                },
              }
            : {}),
        },
        // An explicit timeout also turns off the SDK's refusal of large non-streaming max_tokens.
        { signal: options.signal, timeout: options.timeoutMs, maxRetries: 0 },
      );
    } catch (error) {
      throw toLanguageModelError(error, model);
    }
    // The SDK hands a 2xx body over as a string when it is not labelled JSON (undefined when empty).
    if (!Array.isArray(message?.content)) {
      throw new LanguageModelError({ kind: 'server', message: 'the response had no content', model });
    }
    const toolCalls = toToolCalls(message.content);
    const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
    return {
      text,
      toolCalls,
      finishReason:
        toolCalls.length > 0 ? 'tool_calls' : (finishReasons[message.stop_reason ?? ''] ?? 'other'),
      usage: toUsage(message.usage),
      ...(message.id ? { responseId: message.id } : {}),
    };
  }
}
