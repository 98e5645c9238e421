import { Redis } from 'ioredis';
import { RedisAuthError } from './errors/redis-auth-error.ts';
import { RedisUnavailableError } from './errors/redis-unavailable-error.ts';

/** A Redis URL fit for a log line or an error message: the password blanked out. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** Redis's refusals of the credentials: none given (NOAUTH), wrong ones (WRONGPASS; before Redis 6, "invalid password"). */
const authRefusal = /\b(NOAUTH|WRONGPASS)\b|\binvalid password\b/;

/**
 * Fails fast, with one line saying what to do, when no Redis answers at `url` within `timeoutMs` (the
 * whole attempt: connecting, the ready check and the PING, so a host that accepts and never answers
 * fails like one that refuses). Worker connections wait for Redis for ever by design, so a process
 * checks once at start-up instead of hanging. A Redis that refuses the credentials throws a
 * `RedisAuthError` instead: waiting will not mend it.
 */
export async function checkRedisReachable(url: string, timeoutMs = 3_000): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // Without retries a refused connection rejects with "Connection is closed."; the error event before
  // it says why (ECONNREFUSED, ENOTFOUND, a TLS failure, WRONGPASS), which is what a reader of the line needs.
  let cause: Error | undefined;
  probe.on('error', (error: Error) => {
    cause = error;
  });
  // `connectTimeout` covers the TCP connect only: the ready check and the PING would wait for ever.
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe.connect().then(() => probe.ping()), timedOut]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const telling = cause !== undefined && /Connection is closed/i.test(message) ? cause : error;
    const reason = telling instanceof Error ? telling.message : message;
    if (authRefusal.test(reason))
      throw new RedisAuthError(
        `Redis at ${describeRedisUrl(url)} refused the credentials (${reason}): set the right user and password in REDIS_URL`,
        telling,
      );
    throw new RedisUnavailableError(
      `cannot reach Redis at ${describeRedisUrl(url)} (${reason}): start redis-server or set REDIS_URL`,
      telling,
    );
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}
