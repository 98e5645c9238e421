import type { Approval, PendingStep, StructuredError } from '@plainloop/contracts';
import type { ValidatedToolCall } from '@plainloop/tools';

type Valid = Extract<ValidatedToolCall, { ok: true }>;
type ErrorResult = { ok: false; error: StructuredError };

export type CallPlan = {
  /** Results known without running anything: invalid calls, outcomes unknown, denials, timeouts. */
  errors: Record<string, ErrorResult>;
  /** Calls of tools that are not idempotent, to mark started before they run. */
  toMark: string[];
  /** The step's approvals after this plan: requests made now, decisions folded in, deadlines passed. */
  approvals: Record<string, Approval>;
  /** Whether `approvals` differs from what the checkpoint holds. */
  approvalsChanged: boolean;
  /** The earliest deadline of the approvals still awaited, if any. */
  approvalDeadline: number | undefined;
  /** Calls that run now. */
  toRun: Valid[];
};

function outcomeUnknown(tool: string): StructuredError {
  return {
    code: 'tool_outcome_unknown',
    message: `the worker running this ${tool} call stopped before its result was saved: it may or may not have taken effect, so it was not run again; check before calling it again`,
    retryable: false,
  };
}

function approvalError(
  tool: string,
  approval: Approval,
  deadline: number,
  now: number,
): StructuredError | undefined {
  if (approval.decision === 'denied') {
    return {
      code: 'approval_denied',
      message: approval.comment ?? `a person denied this ${tool} call`,
      retryable: false,
    };
  }
  if (approval.decision === 'pending' && now >= deadline) {
    return {
      code: 'approval_timeout',
      message: `nobody approved this ${tool} call in time`,
      retryable: false,
    };
  }
  return undefined;
}

/**
 * What to do with the calls of a step that have no result yet, a plain function of the checkpoint:
 * - invalid calls (a deploy renamed a tool meanwhile) get their structured error;
 * - calls of tools that need approval ask for it, wait for it, or end as denied or timed out;
 * - calls of tools that are not idempotent run at most once: marked before they run, and a marked call
 *   whose result never landed is reported as unknown rather than run again.
 */
export function planToolCalls(
  pending: PendingStep,
  unfinished: readonly ValidatedToolCall[],
  now: number,
  approvalTimeoutMs: number,
): CallPlan {
  const plan: CallPlan = {
    errors: {},
    toMark: [],
    approvals: { ...pending.approvals },
    approvalsChanged: false,
    approvalDeadline: undefined,
    toRun: [],
  };
  const awaiting = (deadline: number) => {
    plan.approvalDeadline = Math.min(plan.approvalDeadline ?? deadline, deadline);
  };
  for (const validated of unfinished) {
    if (!validated.ok) {
      plan.errors[validated.call.id] = { ok: false, error: validated.error };
      continue;
    }
    const { call, tool } = validated;
    if (tool.description.requiresApproval) {
      const approval = pending.approvals[call.id];
      if (approval === undefined) {
        plan.approvals[call.id] = { decision: 'pending', requestedAt: now };
        plan.approvalsChanged = true;
        awaiting(now + approvalTimeoutMs);
        continue;
      }
      const deadline = approval.requestedAt + approvalTimeoutMs;
      const refused = approvalError(call.name, approval, deadline, now);
      if (refused) {
        plan.errors[call.id] = { ok: false, error: refused };
        if (approval.decision === 'pending') {
          plan.approvals[call.id] = { ...approval, decision: 'expired' };
          plan.approvalsChanged = true;
        }
        continue;
      }
      if (approval.decision === 'pending') {
        awaiting(deadline);
        continue;
      }
    }
    if (!tool.description.idempotent) {
      if (Object.hasOwn(pending.startedCalls, call.id)) {
        plan.errors[call.id] = { ok: false, error: outcomeUnknown(call.name) };
        continue;
      }
      plan.toMark.push(call.id);
    }
    plan.toRun.push(validated);
  }
  return plan;
}
