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
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisUnavailableError(
      `cannot reach Redis at ${describeRedisUrl(url)} (${reason}): start redis-server or set REDIS_URL`,
      error,
    );
  } finally {
    probe.disconnect();
  }
}
