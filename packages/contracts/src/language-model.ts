import { z } from 'zod';
import type { Message } from './message.ts';
import { ToolCall } from './tool-call.ts';
import { Usage } from './usage.ts';

/** A model reference: `provider:model`, e.g. `openai:gpt-4.1-mini` or `scripted:research`. */
export const ModelRef = z.string().regex(/^[a-z][a-z0-9-]*:[^\s]+$/, 'a model is named provider:model');
export type ModelRef = z.infer<typeof ModelRef>;

export const FinishReason = z.enum(['stop', 'tool_calls', 'length', 'content_filter', 'other']);
export type FinishReason = z.infer<typeof FinishReason>;

export type ToolForModel = {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
};

export type GenerateOptions = {
  messages: readonly Message[];
  tools: readonly ToolForModel[];
  /** Ask for a JSON answer matching this schema when the model answers without tool calls. */
  responseSchema?: { name: string; schema: Record<string, unknown> };
  maxOutputTokens?: number;
  /** Per-attempt time limit; adapters pass it to their SDK. */
  timeoutMs: number;
  /** Aborts the call (cancellation, shutdown); adapters pass it to their SDK. */
  signal: AbortSignal;
};

export const GenerateResult = z.object({
  text: z.string(),
  toolCalls: z.array(ToolCall),
  finishReason: FinishReason,
  usage: Usage,
  /** The provider's response id, when it gives one. */
  responseId: z.string().optional(),
});
export type GenerateResult = z.infer<typeof GenerateResult>;

/**
 * The LanguageModel spec every adapter implements. `doGenerate` is named so that application code does
 * not call it by accident: the step machine (and later the router) owns calls, retries and accounting.
 * Adapters throw `LanguageModelError` (from `@plainloop/llm`) with a normalised kind.
 */
export interface LanguageModel {
  readonly provider: string;
  readonly modelId: string;
  /** What the call costs is priced as this model; scripted models name the model they stand in for. */
  readonly pricedAs?: ModelRef;
  doGenerate(options: GenerateOptions): Promise<GenerateResult>;
}

export function modelRefOf(model: Pick<LanguageModel, 'provider' | 'modelId'>): ModelRef {
  return `${model.provider}:${model.modelId}`;
}

/** Normalised kinds of model failure; the router decides retries and fallback from these. */
export const LanguageModelErrorKind = z.enum([
  'rate_limit',
  'overloaded',
  'timeout',
  'connection',
  'auth',
  'bad_request',
  'context_length',
  'server',
  'aborted',
  'unknown',
]);
export type LanguageModelErrorKind = z.infer<typeof LanguageModelErrorKind>;
