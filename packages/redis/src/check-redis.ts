import { describeRedisUrl, parseRedisAddress } from '@plainloop/config';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisAuthError } from './errors/redis-auth-error.ts';
import { RedisUnavailableError } from './errors/redis-unavailable-error.ts';

export { describeRedisUrl };

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
  const address = parseRedisAddress(url);
  if (address.mode === 'single') return probeNode(url, {}, url, timeoutMs);
  // A cluster is reachable when any node named answers and says the cluster is ok: ioredis finds the
  // rest from it. The first node's refusal is the one reported when none answers.
  const credentials: RedisOptions = {
    ...(address.username ? { username: address.username } : {}),
    ...(address.password ? { password: address.password } : {}),
    ...(address.tls ? { tls: {} } : {}),
  };
  let firstFailure: unknown;
  for (const node of address.nodes) {
    try {
      return await probeNode({ host: node.host, port: node.port }, credentials, url, timeoutMs, true);
    } catch (error) {
      if (error instanceof RedisAuthError) throw error;
      firstFailure ??= error;
    }
  }
  throw firstFailure;
}

async function probeNode(
  target: string | { host: string; port: number },
  credentials: RedisOptions,
  url: string,
  timeoutMs: number,
  cluster = false,
): Promise<void> {
  const options: RedisOptions = {
    ...credentials,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  };
  const probe =
    typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options });
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
    const answered = async () => {
      await probe.connect();
      await probe.ping();
      if (!cluster) return;
      const info = String(await probe.call('CLUSTER', 'INFO'));
      const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
      if (state !== 'ok') throw new Error(`the cluster's state is ${state}`);
    };
    await Promise.race([answered(), timedOut]);
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
