import type { BudgetDetail, Message, RunState, RunStatus, StructuredError } from '@plainloop/contracts';
import { logPayload } from '@plainloop/telemetry';
import { appendToThread, leaveThread } from './memory/thread-turn.ts';
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
  // The thread gets the run's turns first: a crash before the final checkpoint repeats this, harmlessly.
  await appendToThread(session.environment, session.state, [...session.turns, ...(finish.appendTurns ?? [])]);
  const state = await session.update(
    (current) => ({
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
  await leaveThread(session.environment, state).catch((error) =>
    session.logger.warn(
      { err: error },
      'could not hand the thread to its next run; it will find its turn at its next poll',
    ),
  );
  return state;
}
