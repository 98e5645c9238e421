import {
  BudgetDetail,
  type ModelCallRecord,
  type RecordedDecision,
  type RunState,
  RunStatus,
  Usage,
} from '@plainloop/contracts';
import { WebhookDelivery } from '@plainloop/webhooks';
import { z } from 'zod';

const isoTime = z.iso.datetime().describe('ISO 8601, UTC');

const ApprovalView = z.object({
  callId: z.string(),
  tool: z.string().optional(),
  arguments: z.unknown().optional().describe('The call’s arguments as the model wrote them'),
  decision: z.enum(['pending', 'approved', 'denied', 'expired']),
  requestedAt: isoTime.optional(),
  decidedAt: isoTime.optional(),
  comment: z.string().optional(),
});

/** The run as a producer sees it: no transcript, no internal bookkeeping. */
export const RunView = z
  .object({
    runId: z.string(),
    agent: z.string(),
    tenantId: z.string(),
    threadId: z.string().optional(),
    status: RunStatus,
    output: z
      .unknown()
      .optional()
      .describe('The final answer: JSON fitting the agent’s output schema, or text'),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    usage: Usage,
    costUsd: z.number(),
    costComplete: z
      .boolean()
      .describe('False when a model’s price was unknown: costUsd leaves those calls out'),
    stepCount: z.int(),
    steps: z.array(
      z.object({
        step: z.int(),
        model: z.string(),
        finishReason: z.string(),
        toolCalls: z.array(z.string()),
        usage: Usage,
        costUsd: z.number(),
        costKnown: z.boolean(),
        latencyMs: z.int(),
      }),
    ),
    approvals: z.array(ApprovalView),
    budget: BudgetDetail.optional().describe('Set when a budget ended the run: which one and by how much'),
    forkedFrom: z
      .object({
        runId: z.string(),
        step: z.int(),
        usage: Usage,
        costUsd: z.number().describe('What the replayed steps cost the source run'),
      })
      .optional()
      .describe('Set on a fork: the run and the steps it replayed'),
    models: z
      .object({ plan: z.array(z.string()).optional(), execute: z.array(z.string()).optional() })
      .optional()
      .describe('The run’s own model chains, when it has them'),
    webhook: z
      .object({
        url: z.string(),
        delivery: WebhookDelivery.describe(
          'How its delivery went: pending until a receiver answered 2xx or the attempts ran out',
        ),
      })
      .optional(),
    attempts: z.int(),
    createdAt: isoTime,
    startedAt: isoTime.optional(),
    finishedAt: isoTime.optional(),
    durationMs: z.int().optional(),
  })
  .meta({ id: 'Run' });
type RunView = z.infer<typeof RunView>;

const iso = (epochMs: number | undefined) =>
  epochMs === undefined ? undefined : new Date(epochMs).toISOString();

function parsedArguments(argumentsJson: string | undefined): unknown {
  try {
    return argumentsJson === undefined ? undefined : JSON.parse(argumentsJson);
  } catch {
    return argumentsJson;
  }
}

/** The calls of the step in progress that need, or had, a person's decision: what an approver sees. */
function approvalsOf(state: RunState, decisions: Readonly<Record<string, RecordedDecision>>) {
  const { pending } = state;
  if (pending === null) return [];
  return Object.entries(pending.approvals).map(([callId, saved]) => {
    const approval = saved.decision === 'pending' ? { ...saved, ...decisions[callId] } : saved;
    const call = pending.result.toolCalls.find((each) => each.id === callId);
    return {
      callId,
      tool: call?.name,
      arguments: parsedArguments(call?.argumentsJson),
      decision: approval.decision,
      requestedAt: iso(approval.requestedAt),
      decidedAt: iso(approval.decidedAt),
      comment: approval.comment,
    };
  });
}

export function presentRun(
  state: RunState,
  modelCalls: ModelCallRecord[],
  decisions: Readonly<Record<string, RecordedDecision>>,
  delivery: WebhookDelivery | undefined,
): RunView {
  return {
    runId: state.runId,
    agent: state.agent,
    tenantId: state.tenantId,
    ...(state.threadId === undefined ? {} : { threadId: state.threadId }),
    status: state.status,
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.error === undefined ? {} : { error: { code: state.error.code, message: state.error.message } }),
    usage: state.usage,
    costUsd: state.costUsd,
    costComplete: state.unpricedCalls === 0,
    stepCount: state.step,
    steps: modelCalls.map((call) => ({
      step: call.step,
      model: call.model,
      finishReason: call.finishReason,
      toolCalls: call.toolCalls,
      usage: call.usage,
      costUsd: call.costUsd,
      costKnown: call.costKnown,
      latencyMs: Math.round(call.latencyMs),
    })),
    approvals: approvalsOf(state, decisions),
    ...(state.budget === undefined ? {} : { budget: state.budget }),
    ...(state.forkedFrom === undefined ? {} : { forkedFrom: state.forkedFrom }),
    ...(state.models === undefined ? {} : { models: state.models }),
    ...(state.webhook === undefined
      ? {}
      : { webhook: { url: state.webhook.url, delivery: delivery ?? { status: 'pending', attempts: 0 } } }),
    attempts: state.attempt,
    createdAt: new Date(state.createdAt).toISOString(),
    startedAt: iso(state.startedAt),
    finishedAt: iso(state.finishedAt),
    durationMs: state.finishedAt === undefined ? undefined : state.finishedAt - state.createdAt,
  };
}
