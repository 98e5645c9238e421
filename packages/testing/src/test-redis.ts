import { randomUUID } from 'node:crypto';
import {
  connectRedis,
  createKeySchema,
  createRedisClient,
  type KeySchema,
  type RedisConnection,
  type RedisRole,
} from '@plainloop/redis';
import { Cluster } from 'ioredis';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The redis-server of this test run, from the global setup. */
    redisUrl: string;
  }
}

export type TestRedis = {
  url: string;
  /** A prefix no other test uses: every key and queue of the test lives under it. */
  prefix: string;
  keys: KeySchema;
  client: RedisConnection;
  /** Another client to the same server, for a second worker or a producer (worker clients queue commands until connected). */
  connect(role?: RedisRole): RedisConnection;
  /** Deletes the test's keys and closes every client it opened. */
  close(): Promise<void>;
};

export function testRedisUrl(): string {
  return inject('redisUrl');
}

export function uniquePrefix(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

export async function useTestRedis(role: RedisRole = 'worker'): Promise<TestRedis> {
  const url = testRedisUrl();
  const prefix = uniquePrefix();
  const clients: RedisConnection[] = [];
  const connect = (clientRole: RedisRole = role) => {
    const client = createRedisClient(url, clientRole);
    clients.push(client);
    return client;
  };
  const client = await connectRedis(url, role);
  clients.push(client);
  return {
    url,
    prefix,
    keys: createKeySchema(prefix),
    client,
    connect,
    async close() {
      // A test's keys, found by prefix on every master (a test may do what the product must not).
      const servers = client instanceof Cluster ? client.nodes('master') : [client];
      for (const server of servers) {
        for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
          let cursor = '0';
          do {
            const [next, found] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
            // One key a command: the keys found may lie in many slots.
            await Promise.all(found.map((key) => client.del(key)));
            cursor = next;
          } while (cursor !== '0');
        }
      }
      await Promise.all(clients.map((each) => each.quit().catch(() => each.disconnect())));
    },
  };
}

/** How many run events every shard's stream holds (an entry holds one or many, as JSON lines). */
export async function countShardEvents(client: RedisConnection, keys: KeySchema): Promise<number> {
  let count = 0;
  for (const shard of keys.shards) {
    for (const [, fields] of await client.xrange(shard.events, '-', '+')) {
      const at = fields.indexOf('events');
      if (at !== -1) count += (fields[at + 1] ?? '').split('\n').length;
    }
  }
  return count;
}
