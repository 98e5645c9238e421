import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '@plainloop/config';
import { checkRedisReachable, describeRedisUrl, RedisAuthError } from '@plainloop/redis';
import type { Logger } from './create-logger.ts';

export type WaitForRedisOptions = {
  logger: Logger;
  /** Aborted (SIGTERM), the wait ends at once and resolves `false`. */
  signal: AbortSignal;
  /** Told each time an attempt fails, with why, so readiness can say it. */
  onUnreachable?: (reason: string) => void;
  firstDelayMs?: number;
  /** The longest pause between two attempts: how late a worker may notice Redis is back. */
  maxDelayMs?: number;
  /**
   * How long one attempt may take, all of it (a host that drops packets, or accepts and never answers):
   * past it the attempt counts as failed, and the wait goes on.
   */
  attemptTimeoutMs?: number;
};

function reasonOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Waits until Redis answers PING, trying again with a doubling pause capped at `maxDelayMs`. In an
 * orchestrated fleet Redis may come up after the workers, or be away for a while: a worker that exited
 * would only be restarted again and again (a crash loop, with growing restart delays). One warning line
 * says it waits, and another when the reason changes, rather than a line per attempt. Resolves `true`
 * once Redis answers, `false` when `signal` is aborted first. A Redis that refuses the credentials
 * (NOAUTH, WRONGPASS) is a configuration mistake, not an outage: it throws a `ConfigError` at once. A
 * host name that does not resolve (ENOTFOUND) is waited for: an orchestrator's Service may come later.
 */
export async function waitForRedis(url: string, options: WaitForRedisOptions): Promise<boolean> {
  const { logger, signal, firstDelayMs = 250, maxDelayMs = 5_000, attemptTimeoutMs = 3_000 } = options;
  const stopped = new Promise<'stopped'>((resolve) => {
    if (signal.aborted) resolve('stopped');
    signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  let delayMs = firstDelayMs;
  let lastReason: string | undefined;
  for (let attempt = 1; !signal.aborted; attempt += 1) {
    const outcome = await Promise.race([
      checkRedisReachable(url, attemptTimeoutMs).then(
        () => 'reached' as const,
        (error: unknown) => {
          if (error instanceof RedisAuthError) throw new ConfigError(error.message);
          return { reason: reasonOf(error) };
        },
      ),
      stopped,
    ]);
    if (outcome === 'stopped') return false;
    if (outcome === 'reached') {
      if (attempt > 1) logger.info({ redis: describeRedisUrl(url), attempt }, 'Redis answered');
      return true;
    }
    options.onUnreachable?.(outcome.reason);
    if (outcome.reason !== lastReason)
      logger.warn(
        { reason: outcome.reason },
        `Redis at ${describeRedisUrl(url)} is unreachable; waiting for it (not ready)`,
      );
    lastReason = outcome.reason;
    const paused = await sleep(delayMs, 'paused', { signal }).catch(() => 'stopped' as const);
    if (paused === 'stopped') return false;
    delayMs = Math.min(delayMs * 2, maxDelayMs);
  }
  return false;
}
