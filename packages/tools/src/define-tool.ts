import { ToolDescription } from '@plainloop/contracts';
import type { Logger } from '@plainloop/telemetry';
import { z } from 'zod';

export type ToolContext = {
  runId: string;
  step: number;
  callId: string;
  /** `runId:step:callId`: the same on every replay of this call, so side effects can be deduplicated. */
  idempotencyKey: string;
  /** Aborted on timeout, cancellation and shutdown; pass it to fetch and friends. */
  signal: AbortSignal;
  logger: Logger;
};

export type ToolDefinition<Input extends z.ZodType, Output> = {
  name: string;
  description: string;
  input: Input;
  /** Validates what the tool returns before the model sees it; optional. */
  output?: z.ZodType<Output>;
  /** Default 30 seconds. */
  timeoutMs?: number;
  /** Declares that running the call twice has the same effect as once. Default false. */
  idempotent?: boolean;
  /** A person must approve each call before it runs. Default false. */
  requiresApproval?: boolean;
  run(input: z.output<Input>, context: ToolContext): Promise<Output> | Output;
};

export type Tool = {
  readonly name: string;
  readonly description: ToolDescription;
  readonly input: z.ZodType;
  readonly output: z.ZodType | undefined;
  readonly timeoutMs: number;
  run(input: unknown, context: ToolContext): Promise<unknown> | unknown;
};

const defaultTimeoutMs = 30_000;

/**
 * Declares a tool: one atomic action with a zod input, a timeout, and errors that become
 * `{code, message, retryable}`. The JSON Schema offered to models is derived from `input` once, here.
 */
export function defineTool<Input extends z.ZodType, Output>(definition: ToolDefinition<Input, Output>): Tool {
  const timeoutMs = definition.timeoutMs ?? defaultTimeoutMs;
  const description = ToolDescription.parse({
    name: definition.name,
    description: definition.description,
    inputSchema: z.toJSONSchema(definition.input, { target: 'draft-7', io: 'input' }) as Record<
      string,
      unknown
    >,
    timeoutMs,
    idempotent: definition.idempotent ?? false,
    requiresApproval: definition.requiresApproval ?? false,
  });
  return Object.freeze({
    name: definition.name,
    description,
    input: definition.input,
    output: definition.output,
    timeoutMs,
    run: definition.run as Tool['run'],
  });
}
