import { startPrivateRedisCluster } from '@plainloop/redis';
import type { TestProject } from 'vitest/node';
import type {} from './test-redis.ts';

/**
 * Vitest global setup of the cluster half of the test matrix: a private six-node Redis Cluster (three
 * masters, a replica each) for the whole run, whatever REDIS_URL says.
 */
export default async function setup(project: TestProject) {
  const cluster = await startPrivateRedisCluster();
  project.provide('redisUrl', cluster.url);
  return async () => {
    await cluster.stop();
  };
}
