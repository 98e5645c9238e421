import { z } from 'zod';
import { StructuredError } from './structured-error.ts';

/**
 * A tool call as the model produced it. `argumentsJson` stays the raw string the model wrote: it is
 * parsed and validated by the tool executor, so a model that emits garbage gets a structured error
 * back instead of crashing the loop.
 */
export const ToolCall = z.object({
  id: z.string().min(1),
  name: z.string(),
  argumentsJson: z.string(),
  /**
   * Opaque data the provider needs back with the call on the next turn, by provider (Gemini 3's
   * `thoughtSignature`). Kept in the transcript, read only by the adapter that wrote it.
   */
  providerMetadata: z.record(z.string(), z.record(z.string(), z.json())).optional(),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const ToolResult = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: z.unknown() }),
  z.object({ ok: z.literal(false), error: StructuredError }),
]);
export type ToolResult = z.infer<typeof ToolResult>;

/** Error codes a tool call can end in, besides any code a tool throws itself. */
export const ToolErrorCode = z.enum([
  'unknown_tool',
  'invalid_arguments',
  'invalid_output',
  'tool_timeout',
  'tool_error',
  'aborted',
]);
export type ToolErrorCode = z.infer<typeof ToolErrorCode>;
