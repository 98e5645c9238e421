import { z } from 'zod';
import { GenerateResult, ModelRef } from './language-model.ts';
import { RunLimits, RunWebhook } from './run-request.ts';
import { RunStatus } from './run-status.ts';
import { StructuredError } from './structured-error.ts';
import { ToolResult } from './tool-call.ts';
import { Usage } from './usage.ts';

export const Tier = z.enum(['plan', 'execute']);

/** Which budget stopped a run, its limit, what was spent, and what the refused call would have added. */
export const BudgetDetail = z.object({
  budget: z.enum(['run_cost_usd', 'run_tokens', 'tenant_daily_usd']),
  limit: z.number(),
  spent: z.number(),
  requested: z.number().optional(),
});
export type BudgetDetail = z.infer<typeof BudgetDetail>;
export type Tier = z.infer<typeof Tier>;

/** A person's decision on one tool call, checkpointed with the step. */
export const Approval = z.object({
  /** `expired`: nobody decided before the deadline, and the call was refused. */
  decision: z.enum(['pending', 'approved', 'denied', 'expired']),
  requestedAt: z.number(),
  decidedAt: z.number().optional(),
  comment: z.string().max(2_000).optional(),
});
export type Approval = z.infer<typeof Approval>;

/** A person's decision as the API records it beside the run, for the worker to fold into its checkpoint. */
export const RecordedDecision = z.object({
  decision: z.enum(['approved', 'denied']),
  decidedAt: z.number(),
  comment: z.string().max(2_000).optional(),
});
export type RecordedDecision = z.infer<typeof RecordedDecision>;

/**
 * The work of the step in progress, checkpointed as it happens: the model's answer (with its cost)
 * before any tool runs, then each tool result as it lands. A worker that resumes the step reads this and
 * redoes only what is missing. `null` between steps.
 */
export const PendingStep = z.object({
  tier: Tier,
  model: ModelRef,
  callId: z.string(),
  result: GenerateResult,
  costUsd: z.number().min(0),
  latencyMs: z.number().min(0),
  toolResults: z.record(z.string(), ToolResult),
  /**
   * Calls of tools that are not idempotent, marked (with the time) just before they ran. A marked call
   * without a result was cut off mid-run: it may or may not have taken effect, so it is never run again.
   */
  startedCalls: z.record(z.string(), z.number()).default({}),
  /** Approvals of the calls of tools that require one, by call id. */
  approvals: z.record(z.string(), Approval).default({}),
});
export type PendingStep = z.infer<typeof PendingStep>;

/**
 * A summary of the run's thread the model wrote, checkpointed (with its cost) before it is applied to
 * the thread, so a crash in between applies it on resume instead of asking the model again.
 */
export const PendingSummary = z.object({
  callId: z.string(),
  /** Absolute index of the thread's turns the summary covers up to. */
  through: z.int().min(0),
  summary: z.string(),
  facts: z.array(z.object({ key: z.string(), value: z.string() })),
  /** The exchanges folded away, kept for semantic memory when the agent recalls. */
  folded: z.array(z.string()),
});
export type PendingSummary = z.infer<typeof PendingSummary>;

/**
 * One run as stored in Redis. Every write is a compare-and-set on `version` (see the redis package's
 * checkpoint script), so a worker that lost the run can never overwrite it.
 */
export const RunState = z.object({
  runId: z.string(),
  tenantId: z.string(),
  agent: z.string(),
  threadId: z.string().optional(),
  input: z.json(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** The limits the producer asked for; the worker combines them with the agent's own. */
  limits: RunLimits.optional(),
  /** Where the result is POSTed when the run ends. */
  webhook: RunWebhook.optional(),
  /**
   * Set on a fork: the run it replays and how many of its completed steps were copied (their model
   * answers and tool results, with what they cost then). The fork's own usage and cost start at zero.
   */
  forkedFrom: z
    .object({ runId: z.string(), step: z.int().min(0), usage: Usage, costUsd: z.number().min(0) })
    .optional(),
  /** Model chains that replace the agent's for this run (a fork trying another model), by tier. */
  models: z.object({ plan: z.array(ModelRef).optional(), execute: z.array(ModelRef).optional() }).optional(),
  /** Hash of the request, to tell a retried POST from a different request reusing an idempotency key. */
  requestHash: z.string(),
  version: z.int().min(0),
  status: RunStatus,
  /** Completed steps; also the index of the step in progress. */
  step: z.int().min(0),
  pending: PendingStep.nullable(),
  /** Set between a summary step's model call and its application to the thread. */
  pendingSummary: PendingSummary.optional(),
  usage: Usage,
  costUsd: z.number().min(0),
  /** Model calls whose price is unknown (counted at $0): the run's cost is incomplete when this is not 0. */
  unpricedCalls: z.int().min(0).default(0),
  llmCalls: z.int().min(0),
  toolCalls: z.int().min(0),
  /** Consecutive failed runs of each tool in this run (reset by a success). */
  toolFailures: z.record(z.string(), z.int().min(0)).default({}),
  /** Tools taken away for the rest of the run (the session breaker), with why. */
  disabledTools: z.record(z.string(), z.object({ reason: z.string(), at: z.number() })).default({}),
  /** Final answers sent back to the model because they did not fit the output schema. */
  outputRepairs: z.int().min(0).default(0),
  /** How many times a worker has picked the run up; more than one means it was resumed. */
  attempt: z.int().min(0),
  output: z.json().optional(),
  error: StructuredError.optional(),
  /** Set when a budget ended the run: which one and by how much. */
  budget: BudgetDetail.optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
  startedAt: z.number().optional(),
  /** While `waiting`: when the run goes on. */
  waitingUntil: z.number().optional(),
  /** When the step in progress first had to wait; bounds how long one step may wait in all. */
  waitingSince: z.number().optional(),
  finishedAt: z.number().optional(),
});
export type RunState = z.infer<typeof RunState>;

/**
 * One model call in a run's cost ledger, keyed by `callId`. A replayed checkpoint writes the same id
 * again and is ignored, so a call is never counted twice.
 */
export const ModelCallRecord = z.object({
  callId: z.string(),
  step: z.int().min(0),
  model: ModelRef,
  pricedAs: ModelRef,
  finishReason: z.string(),
  toolCalls: z.array(z.string()),
  usage: Usage,
  costUsd: z.number().min(0),
  costKnown: z.boolean().default(true),
  latencyMs: z.number().min(0),
  at: z.number(),
});
export type ModelCallRecord = z.infer<typeof ModelCallRecord>;
