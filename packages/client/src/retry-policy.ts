/** How hard the client tries again: requests that may be repeated, and event streams that dropped. */
export type RetryPolicy = {
  /** Retries of a request that may be repeated (a GET, a POST with an idempotency key). */
  requests: number;
  /** Reconnections in a row of an event stream that dropped before the run finished. */
  reconnects: number;
  /** The first backoff; each retry doubles it, up to `maxDelayMs`, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `retry-after` longer than this is not waited out: the error goes to the caller. */
  maxRetryAfterMs: number;
};

export const defaultRetryPolicy: RetryPolicy = {
  requests: 2,
  reconnects: 5,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
};

/**
 * How long to wait before retry number `attempt` (0 for the first): exactly what the server asked
 * for when it said, otherwise exponential backoff with full jitter, so clients that failed together
 * do not come back together. Undefined when the server asked for a longer wait than the policy allows.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= policy.maxRetryAfterMs ? retryAfterMs : undefined;
  return Math.round(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}

/** A `retry-after` header (seconds, or an HTTP date) in milliseconds from `now`. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1_000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
