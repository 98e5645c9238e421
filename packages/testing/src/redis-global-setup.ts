import { type PrivateRedisServer, startPrivateRedisServer } from '@plainloop/redis';
import type { TestProject } from 'vitest/node';
import type {} from './test-redis.ts';

/**
 * Vitest global setup: one real redis-server per test run (a private one on a free port unless
 * REDIS_URL is set). Tests isolate themselves by key prefix and queue prefix, never by mocking.
 */
export default async function setup(project: TestProject) {
  let server: PrivateRedisServer | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    server = await startPrivateRedisServer();
    url = server.url;
  }
  project.provide('redisUrl', url);
  return async () => {
    await server?.stop();
  };
}
