import { PlainloopApiError } from '@plainloop/client';
import { PlainloopError } from '@plainloop/contracts';
import { UsageError } from '../usage-error.ts';

/** What `plainloop` exits with, so scripts can tell the cases apart. A contract: documented in help and README. */
export const exitCodes = {
  success: 0,
  /** The run ended without success (failed, cancelled, budget_exceeded, max_iterations), or a failure of ours. */
  runDidNotSucceed: 1,
  usage: 2,
  /** The API refused the request (4xx: auth, not found, invalid, conflict). Sending it again will not help. */
  refused: 3,
  /** The API is unreachable, failed (5xx) or asked to slow down (429): trying again later may work. */
  unavailable: 4,
} as const;

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof PlainloopApiError) return error.retryable ? exitCodes.unavailable : exitCodes.refused;
  return exitCodes.runDidNotSucceed;
}

/** What went wrong, on one line, with what to change when the fix is on the caller's side. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof PlainloopError)) {
    const message = error instanceof Error ? error.message : String(error);
    return `unexpected error: ${message}`.replace(/\s+/g, ' ');
  }
  let hint = '';
  if (error instanceof PlainloopApiError && error.code === 'unauthenticated')
    hint = ' (set PLAINLOOP_API_KEY or --api-key)';
  if (error instanceof PlainloopApiError && error.code === 'unreachable')
    hint = ' (is the API running? set PLAINLOOP_API_URL or --api-url)';
  return `${error.message}${hint}`.replace(/\s+/g, ' ');
}
