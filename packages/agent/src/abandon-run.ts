import { isTerminalStatus, type StructuredError } from '@plainloop/contracts';
import { RunFencedError } from '@plainloop/redis';
import { finishRun } from './finish-run.ts';
import type { RunEnvironment } from './run-environment.ts';
import { RunSession } from './run-session.ts';

/**
 * Ends a run whose job BullMQ gave up on (it stalled too often, or kept throwing), so no run stays
 * `running` for ever with nobody working on it. Returns false when the run had already ended.
 */
export async function abandonRun(
  environment: RunEnvironment,
  tenantId: string,
  runId: string,
  error: StructuredError,
): Promise<boolean> {
  const state = await environment.store.load(tenantId, runId);
  if (state === undefined || isTerminalStatus(state.status)) return false;
  const session = new RunSession(environment, state, [], new AbortController().signal);
  try {
    await finishRun(session, { status: 'failed', error });
    return true;
  } catch (caught) {
    if (caught instanceof RunFencedError) return false;
    throw caught;
  }
}
