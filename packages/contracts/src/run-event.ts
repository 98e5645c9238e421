import { z } from 'zod';
import { FinishReason, ModelRef } from './language-model.ts';
import { BudgetDetail, Tier } from './run-state.ts';
import { RunStatus } from './run-status.ts';
import { StructuredError } from './structured-error.ts';
import { Usage } from './usage.ts';

const eventBase = {
  runId: z.string(),
  tenantId: z.string(),
  agent: z.string(),
  /** Milliseconds since the epoch, taken by the process that emitted the event. */
  at: z.number(),
};
const stepBase = { ...eventBase, step: z.int().min(0) };

/**
 * Every run event, named noun.verb. Each is appended to the run's own stream and to the global stream
 * that the metrics process and the demo read. The names are a contract across processes.
 */
export const RunEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run.queued'), ...eventBase }),
  z.object({ type: z.literal('run.started'), ...eventBase, attempt: z.int() }),
  z.object({ type: z.literal('run.resumed'), ...stepBase, attempt: z.int() }),
  z.object({ type: z.literal('step.started'), ...stepBase, tier: Tier }),
  z.object({
    type: z.literal('llm.called'),
    ...stepBase,
    tier: Tier,
    model: ModelRef,
    /** Answered by a model after the first of the tier's chain (the ones before were skipped or failed). */
    fallback: z.boolean(),
    callId: z.string(),
    finishReason: FinishReason,
    toolCalls: z.int().min(0),
    usage: Usage,
    costUsd: z.number().min(0),
    /** False when no price is known for the model: `costUsd` is then 0 and the run's cost incomplete. */
    costKnown: z.boolean(),
    latencyMs: z.number().min(0),
  }),
  z.object({
    type: z.literal('llm.failed'),
    ...stepBase,
    tier: Tier,
    model: ModelRef,
    error: StructuredError,
    latencyMs: z.number().min(0),
    /** Which attempt on this model failed (1 = the first call). */
    attempt: z.int().min(1),
    /** Whether the router tries this model again; if not, the chain moves on (or the run waits or fails). */
    willRetry: z.boolean(),
  }),
  z.object({
    type: z.literal('tool.called'),
    ...stepBase,
    tool: z.string(),
    callId: z.string(),
    latencyMs: z.number().min(0),
  }),
  z.object({
    type: z.literal('tool.failed'),
    ...stepBase,
    tool: z.string(),
    callId: z.string(),
    error: StructuredError,
    latencyMs: z.number().min(0),
  }),
  z.object({
    type: z.literal('tool.disabled'),
    ...stepBase,
    tool: z.string(),
    /** Failures in a row that disabled it for the rest of the run. */
    failures: z.int().min(1),
    error: StructuredError,
  }),
  z.object({
    type: z.literal('breaker.opened'),
    ...stepBase,
    model: ModelRef,
    /** Consecutive failures that opened it. */
    failures: z.int().min(1),
    /** How long the whole fleet skips the model before one probe call is let through. */
    cooldownMs: z.number(),
  }),
  z.object({ type: z.literal('breaker.closed'), ...stepBase, model: ModelRef }),
  z.object({
    type: z.literal('run.waiting'),
    ...stepBase,
    /** When the run goes on (milliseconds since the epoch); no worker slot is held until then. */
    until: z.number(),
    reason: z.enum(['breaker_open', 'rate_limited', 'cooling_down', 'budget', 'approval']),
  }),
  z.object({
    type: z.literal('memory.summarized'),
    ...stepBase,
    /** Exchanges (a user's message and what followed) folded into the thread's rolling summary. */
    foldedExchanges: z.int().min(0),
    /** Facts the summary found (new or changed). */
    facts: z.int().min(0),
  }),
  z.object({
    type: z.literal('budget.exceeded'),
    ...stepBase,
    ...BudgetDetail.shape,
  }),
  z.object({
    type: z.literal('run.finished'),
    ...eventBase,
    status: RunStatus,
    steps: z.int().min(0),
    usage: Usage,
    costUsd: z.number().min(0),
    durationMs: z.number(),
    error: StructuredError.optional(),
  }),
]);
export type RunEvent = z.infer<typeof RunEvent>;
export type RunEventType = RunEvent['type'];
/** An event as emitted, before the stream gives it an id. */
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;
