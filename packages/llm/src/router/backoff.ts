export type RetrySettings = {
  /** Attempts per model before the chain moves on (the first call included). */
  attemptsPerModel: number;
  /** The first backoff's ceiling; each further attempt doubles it. */
  baseDelayMs: number;
  /** No backoff ceiling grows past this. */
  maxDelayMs: number;
  /**
   * Waits up to this long happen in place (the worker slot stays busy); a longer wait moves on to the
   * next model, or checkpoints the run and gives the job back until it can go on.
   */
  maxInlineWaitMs: number;
  /** A provider's advised wait is honoured up to this; a longer one (a day-long quota) is capped. */
  maxCooldownMs: number;
};

/**
 * Exponential backoff with full jitter: a random delay between zero and the capped exponential, so a
 * fleet that failed together does not retry together.
 */
export function backoffDelay(
  attempt: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
