import type { RunState } from '@plainloop/contracts';
import type { Queue } from 'bullmq';
import type { RunEnvironment } from './run-environment.ts';

export type ApprovalDecision = { approved: boolean; comment?: string };

export type DecideOutcome =
  | { kind: 'not_found' }
  /** The run does not wait for a decision on this call: decided already, expired, or it never asked. */
  | { kind: 'not_awaiting'; state: RunState }
  | { kind: 'decided'; state: RunState };

/**
 * Records a person's decision on a tool call that waits for approval and brings the run's job forward,
 * so a worker goes on at once. The decision is written beside the run (once per call), not into its
 * fenced state: a decision never fences out the worker that holds the run, which folds the decision into
 * its next checkpoint. A denial reaches the model as a structured error; an approval lets the call run.
 */
export async function decideApproval(
  dependencies: { environment: RunEnvironment; queue: Queue },
  tenantId: string,
  runId: string,
  callId: string,
  decision: ApprovalDecision,
): Promise<DecideOutcome> {
  const { environment } = dependencies;
  const state = await environment.store.load(tenantId, runId);
  if (state === undefined) return { kind: 'not_found' };
  const approval = state.pending?.approvals[callId];
  const now = environment.now();
  const awaited =
    state.pending !== null &&
    approval?.decision === 'pending' &&
    !Object.hasOwn(state.pending.toolResults, callId) &&
    now < approval.requestedAt + environment.settings.approvalTimeoutMs;
  if (!awaited) return { kind: 'not_awaiting', state };
  const recorded = await environment.store.recordDecision(tenantId, runId, callId, {
    decision: decision.approved ? 'approved' : 'denied',
    decidedAt: now,
    ...(decision.comment === undefined ? {} : { comment: decision.comment }),
  });
  if (!recorded) return { kind: 'not_awaiting', state };
  environment.logger.info({ runId, callId, approved: decision.approved }, 'approval decided');
  // The job waits in delayed until the approval deadline; the decision makes it due now.
  const job = await dependencies.queue.getJob(runId);
  if (job && (await job.getState()) === 'delayed') await job.promote().catch(() => undefined);
  return { kind: 'decided', state };
}
