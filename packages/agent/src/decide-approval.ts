import type { RunState } from '@plainloop/contracts';
import { RunFencedError } from '@plainloop/redis';
import type { Queue } from 'bullmq';
import type { RunEnvironment } from './run-environment.ts';
import { RunSession } from './run-session.ts';

export type ApprovalDecision = { approved: boolean; comment?: string };

export type DecideOutcome =
  | { kind: 'not_found' }
  /** The run is not waiting for a decision on this call (decided already, or it never asked). */
  | { kind: 'not_awaiting'; state: RunState }
  | { kind: 'decided'; state: RunState };

/**
 * Records a person's decision on a tool call that waits for approval, checkpointed with the step, and
 * brings the run's job forward so a worker goes on at once. A denial reaches the model as a structured
 * error; an approval lets the call run.
 */
export async function decideApproval(
  dependencies: { environment: RunEnvironment; queue: Queue },
  tenantId: string,
  runId: string,
  callId: string,
  decision: ApprovalDecision,
): Promise<DecideOutcome> {
  const { environment } = dependencies;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const state = await environment.store.load(tenantId, runId);
    if (state === undefined) return { kind: 'not_found' };
    const approval = state.pending?.approvals[callId];
    if (state.pending === null || approval?.decision !== 'pending') return { kind: 'not_awaiting', state };
    const session = new RunSession(environment, state, [], new AbortController().signal);
    try {
      const decided = await session.update((current) => {
        const pending = current.pending ?? state.pending;
        if (pending === null) return current;
        return {
          ...current,
          pending: {
            ...pending,
            approvals: {
              ...pending.approvals,
              [callId]: {
                ...approval,
                decision: decision.approved ? 'approved' : 'denied',
                decidedAt: environment.now(),
                ...(decision.comment === undefined ? {} : { comment: decision.comment }),
              },
            },
          },
        };
      });
      session.logger.info({ callId, approved: decision.approved }, 'approval decided');
      // The job waits in delayed until the approval deadline; the decision makes it due now.
      const job = await dependencies.queue.getJob(runId);
      if (job && (await job.getState()) === 'delayed') await job.promote().catch(() => undefined);
      return { kind: 'decided', state: decided };
    } catch (error) {
      // The run moved on between the read and the write (a worker took it): read it again.
      if (!(error instanceof RunFencedError)) throw error;
    }
  }
  throw new Error(`run ${runId} kept changing while its approval was being recorded`);
}
