import { isTerminalStatus, type Message, type RunState } from '@plainloop/contracts';
import type { RunEnvironment } from '../run-environment.ts';

/** How soon a run parked behind another run of its thread looks again (a finishing run also wakes it). */
export const threadPollMs = 1_000;

function threadOf(state: RunState) {
  return state.threadId === undefined ? undefined : { tenantId: state.tenantId, threadId: state.threadId };
}

/**
 * Whether it is this run's turn in its thread: runs of one thread go one at a time, in the order they
 * entered. A head run that ended without leaving the queue (its worker died in between, or it was
 * cancelled while queued) is cleared first.
 */
export async function takeThreadTurn(environment: RunEnvironment, state: RunState): Promise<boolean> {
  const thread = threadOf(state);
  if (thread === undefined) return true;
  for (let tries = 0; tries < 3; tries += 1) {
    if (await environment.threads.enter(thread, state.runId)) return true;
    const head = await environment.threads.head(thread);
    if (head === undefined) continue;
    const headState = await environment.store.load(state.tenantId, head);
    if (headState !== undefined && !isTerminalStatus(headState.status)) return false;
    await environment.threads.leave(thread, head);
  }
  return false;
}

/** The run's part of the conversation: the user's message (its input) and every turn of its steps. */
function threadTurnsOf(state: RunState, turns: readonly Message[]): Message[] {
  const input = typeof state.input === 'string' ? state.input : JSON.stringify(state.input);
  return [{ role: 'user', content: input }, ...turns];
}

/** Appends the ending run's turns to its thread (once, by run id), before the run is marked finished. */
export async function appendToThread(
  environment: RunEnvironment,
  state: RunState,
  turns: readonly Message[],
): Promise<void> {
  const thread = threadOf(state);
  if (thread !== undefined)
    await environment.threads.append(thread, state.runId, threadTurnsOf(state, turns));
}

/** Leaves the thread's queue after the run finished, and wakes the next run of the thread. */
export async function leaveThread(environment: RunEnvironment, state: RunState): Promise<void> {
  const thread = threadOf(state);
  if (thread === undefined) return;
  const next = await environment.threads.leave(thread, state.runId);
  if (next !== undefined) await environment.wakeRun?.(next);
}
