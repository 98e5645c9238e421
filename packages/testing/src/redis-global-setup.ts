import { startPrivateRedisCluster, startPrivateRedisServer } from '@plainloop/redis';
import type { TestProject } from 'vitest/node';
import type {} from './test-redis.ts';

/**
 * Vitest global setup: one real Redis per test run, a private one unless REDIS_URL is set: a
 * redis-server on a free port, or, with `PLAINLOOP_TEST_REDIS=cluster`, a six-node Redis Cluster.
 * Tests isolate themselves by key prefix and queue prefix, never by mocking.
 */
export default async function setup(project: TestProject) {
  let server: { url: string; stop(): Promise<void> } | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    server =
      process.env.PLAINLOOP_TEST_REDIS === 'cluster'
        ? await startPrivateRedisCluster()
        : await startPrivateRedisServer();
    url = server.url;
  }
  project.provide('redisUrl', url);
  return async () => {
    await server?.stop();
  };
}
