import type { BudgetDetail, Message, RunState, RunStatus, StructuredError } from '@plainloop/contracts';
import { logPayload } from '@plainloop/telemetry';
import { applyPendingSummary } from './memory/summarize-thread.ts';
import { appendToThread, leaveThread } from './memory/thread-order.ts';
import type { RunEnvironment } from './run-environment.ts';
import type { PlannedEvent, RunSession, WritePlan } from './run-session.ts';

export type Finish = {
  status: Exclude<RunStatus, 'queued' | 'running' | 'waiting'>;
  output?: unknown;
  error?: StructuredError;
  /** The budget that ended the run, and by how much (also told in a `budget.exceeded` event). */
  budget?: BudgetDetail;
  /** The last step's turns, when finishing also completes a step. */
  appendTurns?: readonly Message[];
};

/**
 * The terminal checkpoint of a run, planned on `current` (which may already carry the last step's
 * work: a step whose commit ends the run is one write): the named status, the output or error, an
 * expiry on every key of the run, and the `run.finished` event (and `budget.exceeded`) in it.
 */
export function finishPlan(
  environment: RunEnvironment,
  current: Omit<RunState, 'version'>,
  finish: Finish,
  alsoSaved: readonly PlannedEvent[] = [],
): WritePlan {
  const now = environment.now();
  const completesStep = finish.appendTurns !== undefined;
  const { pendingSummary: _applied, ...rest } = current;
  const next: Omit<RunState, 'version'> = {
    ...rest,
    status: finish.status,
    step: completesStep ? current.step + 1 : current.step,
    pending: null,
    ...(finish.output === undefined ? {} : { output: finish.output as RunState['output'] }),
    ...(finish.error === undefined ? {} : { error: finish.error }),
    ...(finish.budget === undefined ? {} : { budget: finish.budget }),
    finishedAt: now,
  };
  const events: PlannedEvent[] = [
    ...alsoSaved,
    {
      draft: {
        type: 'run.finished',
        status: finish.status,
        steps: next.step,
        usage: next.usage,
        costUsd: next.costUsd,
        durationMs: now - next.createdAt,
        ...(finish.error === undefined ? {} : { error: finish.error }),
      },
      detail: () => (next.output === undefined ? {} : { output: logPayload(next.output) }),
    },
  ];
  if (finish.budget)
    events.push({
      type: 'budget.exceeded',
      step: completesStep ? next.step - 1 : next.step,
      ...finish.budget,
    });
  return {
    next,
    options: {
      expireSeconds: environment.settings.retentionSeconds,
      ...(finish.appendTurns ? { appendTurns: finish.appendTurns } : {}),
    },
    events,
  };
}

/**
 * Ends the run in a named status, keeps its keys for the retention period, says so in an event, and
 * queues its webhook. Throws after the terminal checkpoint when the webhook cannot be queued.
 */
export async function finishRun(session: RunSession, finish: Finish): Promise<RunState> {
  // A summary saved but not applied yet (the run is ending before its next step) still reaches the thread.
  await applyPendingSummary(session);
  const state = await session.write((current) => finishPlan(session.environment, current, finish));
  await afterFinish(session, state);
  return state;
}

/**
 * What follows a run's terminal checkpoint: its turns reach its thread, the thread's next run is woken,
 * and its webhook is queued. Throws when the webhook cannot be queued.
 */
export async function afterFinish(session: RunSession, state: RunState): Promise<void> {
  // After the fenced checkpoint, so only the run's true end reaches its thread. A crash before this is
  // repaired by the thread's next run, which appends the turns of an ended head before passing it.
  try {
    await appendToThread(session.environment, state);
    await leaveThread(session.environment, state);
  } catch (error) {
    session.logger.warn({ err: error }, 'could not hand the thread on; its next run will, at its next poll');
  }
  // Last, so that everything above is done when it throws: a retry finds the run ended and only queues
  // the webhook again.
  await requestWebhook(session.environment, state);
}

/**
 * Queues the delivery of an ended run's result to its webhook, if it has one. Called after the terminal
 * checkpoint, and again wherever a run is found already ended (a run job that runs again, a run job
 * BullMQ gave up on, a cancel of an ended run): the job id is the run id, so a second call is a no-op.
 * A failed enqueue throws, never passes in silence: the run job (or the cancel request) fails, and its
 * retry finds the run ended and queues the webhook again. Swallowed, the webhook would be lost for good.
 */
export async function requestWebhook(environment: RunEnvironment, state: RunState): Promise<void> {
  if (state.webhook === undefined || environment.enqueueWebhook === undefined) return;
  try {
    await environment.enqueueWebhook({ tenantId: state.tenantId, runId: state.runId });
  } catch (error) {
    environment.logger.error(
      { err: error, runId: state.runId, tenantId: state.tenantId },
      'could not queue the webhook of an ended run: it is queued again when the job or request is retried',
    );
    throw error;
  }
}
