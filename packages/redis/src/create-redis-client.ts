import { parseRedisAddress } from '@plainloop/config';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/**
 * A connection to the fleet's Redis: one server, or a Redis Cluster (`redis+cluster://` in
 * `REDIS_URL`). Both speak the same commands; what differs is that on a cluster a script, a pipeline
 * or a `MULTI` may touch one slot only (`pipelinePerSlot`, the shard keys' hash tags).
 */
export type RedisConnection = Redis | Cluster;

/**
 * Who the connection is for decides how it behaves while Redis is away:
 * - `worker`: BullMQ workers and the step machine. Commands wait for Redis to come back instead of
 *   failing (`maxRetriesPerRequest: null`, which BullMQ requires for blocking connections): a worker
 *   has nobody waiting on it and losing a checkpoint write to a 20-second Redis restart would be worse
 *   than waiting it out.
 * - `producer`: the API and producer clients. A caller is waiting on the other end, so commands fail
 *   fast (one retry, no offline queue) and the API answers 503 instead of hanging.
 */
export type RedisRole = 'worker' | 'producer';

/** Reconnect with a capped exponential delay, for ever: a Redis restart must not kill the fleet. */
const reconnectDelay = (times: number) => Math.min(1000 * 2 ** Math.min(times, 5), 20_000);

export function redisOptionsFor(role: RedisRole): RedisOptions {
  const common: RedisOptions = {
    retryStrategy: reconnectDelay,
    connectTimeout: 10_000,
    enableAutoPipelining: false,
  };
  if (role === 'worker') return { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true };
  return { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false };
}

/**
 * The same roles on a cluster. A command that meets a node gone (a master killed before its replica
 * is promoted, which takes the cluster's node timeout and a second or two) is sent again after
 * `retryDelayOnFailover`, at most `maxRedirections` times: a worker keeps trying for about a minute,
 * a producer for about three seconds. Reads go to masters only (`scaleReads: 'master'`): a fencing
 * read from a replica could be behind the write it must see.
 */
export function clusterOptionsFor(role: RedisRole, address: ClusterAddress): ClusterOptions {
  const { retryStrategy: _ownedByTheCluster, enableOfflineQueue, ...node } = redisOptionsFor(role);
  return {
    scaleReads: 'master',
    clusterRetryStrategy: reconnectDelay,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: false,
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    maxRedirections: role === 'worker' ? 200 : 10,
    // With TLS (managed clusters: ElastiCache, MemoryStore, Azure), nodes are dialled by the names the
    // cluster gives, unresolved: a certificate names hosts, not their addresses.
    ...(address.tls ? { dnsLookup: keepHostname } : {}),
    redisOptions: {
      ...node,
      ...(address.username ? { username: address.username } : {}),
      ...(address.password ? { password: address.password } : {}),
      ...(address.tls ? { tls: {} } : {}),
    },
  };
}

const keepHostname: NonNullable<ClusterOptions['dnsLookup']> = (hostname, callback) =>
  callback(null, hostname);

type ClusterAddress = Extract<ReturnType<typeof parseRedisAddress>, { mode: 'cluster' }>;

/**
 * `autoPipelining`: commands issued in the same tick of the event loop go to Redis in one write (on
 * a cluster, one write per node). For the step machine's connection, where hundreds of runs each send
 * a command or two per phase: one socket write each was the worker's largest cost (see BENCHMARKS.md).
 */
export function createRedisClient(
  url: string,
  role: RedisRole,
  connectionName?: string,
  tuning: { autoPipelining?: boolean } = {},
): RedisConnection {
  const address = parseRedisAddress(url);
  const named = connectionName ? { connectionName } : {};
  const pipelined = tuning.autoPipelining ? { enableAutoPipelining: true } : {};
  if (address.mode === 'cluster') {
    const options = clusterOptionsFor(role, address);
    return new Cluster(address.nodes, {
      ...options,
      ...pipelined,
      redisOptions: { ...options.redisOptions, ...named },
    });
  }
  return new Redis(url, { ...redisOptionsFor(role), ...named, ...pipelined });
}

/**
 * A client that is connected before it is handed out. Producer clients refuse commands while
 * disconnected (no offline queue), so they must not be used before their first `ready`.
 */
export async function connectRedis(
  url: string,
  role: RedisRole,
  connectionName?: string,
): Promise<RedisConnection> {
  const client = createRedisClient(url, role, connectionName);
  if (client.status === 'ready') return client;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.off('ready', onReady);
      reject(new Error(`could not connect to Redis at ${url}`));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
  return client;
}

/**
 * Closes a client without waiting on a Redis that is gone: QUIT when connected (its reply is waited for
 * at most `waitMs`), otherwise, or after that, the socket is dropped. A worker connection queues
 * commands while disconnected, so a plain `quit()` on it could wait for ever.
 */
export async function closeRedisClient(client: RedisConnection, waitMs = 2_000): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'gave up'>((resolve) => {
      timer = setTimeout(() => resolve('gave up'), waitMs);
    });
    const quit = client.quit().then(
      () => 'quit' as const,
      () => 'gave up' as const,
    );
    const outcome = await Promise.race([quit, gaveUp]);
    clearTimeout(timer);
    if (outcome === 'quit') return;
  }
  client.disconnect();
}
