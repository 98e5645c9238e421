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
  /** The budget that ended the run, and by how much. */
  budget?: BudgetDetail;
  /** The last step's turns, when finishing also completes a step. */
  appendTurns?: readonly Message[];
};

/** Ends the run in a named status, keeps its keys for the retention period, and says so in an event. */
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
  await requestWebhook(session.environment, state);
  await session.emit(
    {
      type: 'run.finished',
      status: state.status,
      steps: state.step,
      usage: state.usage,
      costUsd: state.costUsd,
      durationMs: now - state.createdAt,
      ...(finish.error === undefined ? {} : { error: finish.error }),
    },
    state.output === undefined ? {} : { output: logPayload(state.output) },
  );
  // After the fenced checkpoint, so only the run's true end reaches its thread. A crash before this is
  // repaired by the thread's next run, which appends the turns of an ended head before passing it.
  try {
    await appendToThread(session.environment, state);
    await leaveThread(session.environment, state);
  } catch (error) {
    session.logger.warn({ err: error }, 'could not hand the thread on; its next run will, at its next poll');
  }
  return state;
}

/**
 * Queues the delivery of an ended run's result to its webhook, if it has one. Called after the terminal
 * checkpoint, and again by a worker that finds the run already ended (a crash may have come in between);
 * the job id is the run id, so a second call is a no-op. A failed enqueue is logged: the run has ended
 * either way, and its result stays readable from the API.
 */
export async function requestWebhook(environment: RunEnvironment, state: RunState): Promise<void> {
  if (state.webhook === undefined || environment.enqueueWebhook === undefined) return;
  try {
    await environment.enqueueWebhook({ tenantId: state.tenantId, runId: state.runId });
  } catch (error) {
    environment.logger.error(
      { err: error, runId: state.runId, tenantId: state.tenantId },
      'could not queue the webhook of an ended run: its result is not delivered (the API still has it)',
    );
  }
}
