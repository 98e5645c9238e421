import type { BudgetDetail, Message, RunState, RunStatus, StructuredError } from '@plainloop/contracts';
import { logPayload } from '@plainloop/telemetry';
import { applyPendingSummary } from './memory/summarize-thread.ts';
import { appendToThread, leaveThread } from './memory/thread-order.ts';
import type { RunEnvironment } from './run-environment.ts';
import type { RunSession } from './run-session.ts';

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
 * Ends the run in a named status, keeps its keys for the retention period, says so in an event, and
 * queues its webhook. Throws after the terminal checkpoint when the webhook cannot be queued.
 */
export async function finishRun(session: RunSession, finish: Finish): Promise<RunState> {
  const now = session.environment.now();
  const completesStep = finish.appendTurns !== undefined;
  // A summary saved but not applied yet (the run is ending before its next step) still reaches the thread.
  await applyPendingSummary(session);
  const state = await session.update(
    ({ pendingSummary: _applied, ...current }) => ({
      ...current,
      status: finish.status,
      step: completesStep ? current.step + 1 : current.step,
      pending: null,
      ...(finish.output === undefined ? {} : { output: finish.output as RunState['output'] }),
      ...(finish.error === undefined ? {} : { error: finish.error }),
      ...(finish.budget === undefined ? {} : { budget: finish.budget }),
      finishedAt: now,
    }),
    {
      expireSeconds: session.environment.settings.retentionSeconds,
      ...(finish.appendTurns ? { appendTurns: finish.appendTurns } : {}),
    },
  );
  session.emit(
    {
      type: 'run.finished',
      status: state.status,
      steps: state.step,
      usage: state.usage,
      costUsd: state.costUsd,
      durationMs: now - state.createdAt,
      ...(finish.error === undefined ? {} : { error: finish.error }),
    },
    () => (state.output === undefined ? {} : { output: logPayload(state.output) }),
  );
  // Here rather than at each caller, so that a failed webhook enqueue (which throws, below) cannot
  // cost the run an event.
  if (finish.budget)
    session.emit({
      type: 'budget.exceeded',
      step: completesStep ? state.step - 1 : state.step,
      ...finish.budget,
    });
  // After the fenced checkpoint, so only the run's true end reaches its thread. A crash before this is
  // repaired by the thread's next run, which appends the turns of an ended head before passing it.
  try {
    await appendToThread(session.environment, state);
    await leaveThread(session.environment, state);
  } catch (error) {
    session.logger.warn({ err: error }, 'could not hand the thread on; its next run will, at its next poll');
  }
  // Last, so that everything above is done when it throws: a retry finds the run ended and only queues
  // the webhook again. The run's last events are in Redis before whoever ended it (a worker, a cancel
  // from the API, a job BullMQ gave up on) says it has ended.
  try {
    await requestWebhook(session.environment, state);
  } finally {
    await session.published();
  }
  return state;
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
