import type { GenerateOptions, GenerateResult, LanguageModel, Message, ModelRef } from '@plainloop/contracts';
import { LanguageModelError } from '../../errors/language-model-error.ts';

export type ScriptedReply = {
  text?: string;
  toolCalls?: ReadonlyArray<{ name: string; arguments: unknown }>;
};

export type ScriptContext = {
  /** How many times the model has answered in this conversation so far (0 on the first call). */
  turn: number;
  messages: readonly Message[];
  /** The run's input, parsed from the first user message when it is JSON. */
  input: unknown;
  /** The latest result of each tool in the conversation, by tool name, parsed from JSON where it is JSON. */
  toolResults: ReadonlyMap<string, unknown>;
};

export type ScriptedModelOptions = {
  name: string;
  script: (context: ScriptContext) => ScriptedReply;
  /** Price the calls as this model, so the demo shows what a real run would cost. */
  pricedAs?: ModelRef;
  /** Simulated model latency in milliseconds. */
  latencyMs?: number;
};

const charactersPerToken = 4;

function estimateTokens(text: string): number {
  return Math.ceil(text.length / charactersPerToken);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function contextOf(messages: readonly Message[]): ScriptContext {
  const turn = messages.filter((message) => message.role === 'assistant').length;
  const firstUser = messages.find((message) => message.role === 'user');
  const toolResults = new Map<string, unknown>();
  for (const message of messages) {
    if (message.role === 'tool') toolResults.set(message.toolName, parseJson(message.content));
  }
  return { turn, messages, input: firstUser ? parseJson(firstUser.content) : undefined, toolResults };
}

/**
 * A deterministic, offline model driven by a script: the same conversation always gets the same reply.
 * The demo uses it when no API key is set, and tests use it to drive the loop. It is never mistaken for
 * a real model: its provider is `scripted`, and it says so in every model ref.
 */
export function scriptedModel(options: ScriptedModelOptions): LanguageModel {
  return {
    provider: 'scripted',
    modelId: options.name,
    ...(options.pricedAs ? { pricedAs: options.pricedAs } : {}),
    async doGenerate(generate: GenerateOptions): Promise<GenerateResult> {
      const model = `scripted:${options.name}`;
      if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
      if (generate.signal.aborted)
        throw new LanguageModelError({ kind: 'aborted', message: 'the call was aborted', model });
      const context = contextOf(generate.messages);
      const reply = options.script(context);
      const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
        id: `call_${context.turn}_${index}`,
        name: call.name,
        argumentsJson: JSON.stringify(call.arguments),
      }));
      const text = reply.text ?? '';
      const prompt = generate.messages.map((message) => message.content).join('\n');
      return {
        text,
        toolCalls,
        finishReason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
        usage: {
          inputTokens: estimateTokens(prompt) + estimateTokens(JSON.stringify(generate.tools)),
          cachedInputTokens: 0,
          outputTokens:
            estimateTokens(text) +
            toolCalls.reduce((sum, call) => sum + estimateTokens(call.argumentsJson), 0),
          reasoningTokens: 0,
        },
        responseId: `scripted-${context.turn}`,
      };
    },
  };
}
