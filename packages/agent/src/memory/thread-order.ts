import { isTerminalStatus, type Message, type RunState } from '@plainloop/contracts';
import type { RunEnvironment } from '../run-environment.ts';

/**
 * How soon a run parked behind another run of its thread looks again. The run ahead wakes it when it
 * ends, so this only matters when that wake is missed; a run ahead may wait a day for an approval.
 */
export const threadPollMs = 5_000;

/** Job states in which a queued run can never be taken: it must not hold its thread up. */
const deadJobStates: ReadonlySet<string> = new Set(['unknown', 'failed', 'completed']);

function threadOf(state: RunState) {
  return state.threadId === undefined ? undefined : { tenantId: state.tenantId, threadId: state.threadId };
}

/**
 * Whether it is this run's turn in its thread: runs of one thread go one at a time, in the order they
 * entered. A head run that cannot be ahead any more is cleared first: one that ended without leaving
 * (its worker died in between: its turns are appended now), or one still queued whose job is gone or
 * was given up (a producer that died between its two writes; it enters again if its job comes back).
 */
export async function takeTurnInThread(environment: RunEnvironment, state: RunState): Promise<boolean> {
  const thread = threadOf(state);
  if (thread === undefined) return true;
  const { threadQueue, store } = environment;
  for (let tries = 0; tries < 5; tries += 1) {
    if (await threadQueue.enter(thread, state.runId)) return true;
    const head = await threadQueue.head(thread);
    if (head === undefined) continue;
    const headState = await store.load(state.tenantId, head);
    if (headState !== undefined && isTerminalStatus(headState.status)) {
      await appendToThread(environment, headState);
    } else if (headState !== undefined) {
      const jobState = await environment.jobStateOf?.(head);
      if (jobState === undefined || !deadJobStates.has(jobState)) return false;
    }
    await threadQueue.leave(thread, head);
  }
  return false;
}

/** The run's part of the conversation: the user's message (its input) and every turn of its steps. */
function threadTurnsOf(state: RunState, turns: readonly Message[]): Message[] {
  const input = typeof state.input === 'string' ? state.input : JSON.stringify(state.input);
  return [{ role: 'user', content: input }, ...turns];
}

/**
 * Appends an ended run's turns (as checkpointed) to its thread, once by run id. A run that never
 * started (cancelled while queued) said nothing to the thread and adds nothing.
 */
export async function appendToThread(environment: RunEnvironment, state: RunState): Promise<void> {
  const thread = threadOf(state);
  if (thread === undefined || state.startedAt === undefined) return;
  const turns = await environment.store.loadTurns(state.tenantId, state.runId);
  await environment.threads.append(thread, state.runId, threadTurnsOf(state, turns));
}

/** Leaves the thread's queue after the run ended, and wakes the next run of the thread. */
export async function leaveThread(environment: RunEnvironment, state: RunState): Promise<void> {
  const thread = threadOf(state);
  if (thread === undefined) return;
  const next = await environment.threadQueue.leave(thread, state.runId);
  if (next !== undefined) await environment.wakeRun?.(next);
}
