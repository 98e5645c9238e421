import { Redis } from 'ioredis';
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

/**
 * Fails fast, with one line saying what to do, when no Redis answers at `url`. Worker connections
 * wait for Redis for ever by design, so a process checks once at start-up instead of hanging.
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
  // it says why (ECONNREFUSED, ENOTFOUND, a TLS failure), which is what a reader of the line needs.
  let cause: Error | undefined;
  probe.on('error', (error: Error) => {
    cause = error;
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const telling = cause !== undefined && /Connection is closed/i.test(message) ? cause : error;
    const reason = telling instanceof Error ? telling.message : message;
    throw new RedisUnavailableError(
      `cannot reach Redis at ${describeRedisUrl(url)} (${reason}): start redis-server or set REDIS_URL`,
      telling,
    );
  } finally {
    probe.disconnect();
  }
}
