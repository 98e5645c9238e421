import type { AddressInfo } from 'node:net';
import { ApiKeyring, buildApi } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis, waitFor } from '@plainloop/testing';
import type { FastifyInstance } from 'fastify';
import { type Fleet, startFleet } from './fleet-harness.ts';

const agentsPath = new URL('./client-agents.ts', import.meta.url).pathname;

export type ApiFleet = {
  /** Where the API listens, on 127.0.0.1. */
  baseUrl: string;
  /** A key of the tenant `acme`. */
  apiKey: string;
  redis: TestRedis;
  fleet: Fleet;
  stop(): Promise<void>;
};

/**
 * The real thing for client and CLI tests: the API on a real port (in the test's process, so a test
 * can start it cheaply) and one `plainloop worker` process running `client-agents.ts` on scripted
 * models, on the test run's Redis under a prefix of its own. Resolves once the worker has published
 * its agents. `workerEnvironment` adds to the worker's settings (a fake provider for a fork's models).
 */
export async function startApiFleet(
  apiKey: string,
  workerEnvironment: Record<string, string> = {},
): Promise<ApiFleet> {
  const redis = await useTestRedis();
  const fleet = await startFleet({
    redisUrl: redis.url,
    prefix: redis.prefix,
    agentsPath,
    environment: workerEnvironment,
  });
  fleet.startWorker('worker');
  let api: FastifyInstance | undefined;
  try {
    const apiRedis = redis.connect('producer');
    await waitFor('the API connection', () => (apiRedis.status === 'ready' ? true : undefined));
    api = await buildApi({
      // No rate limit: the tests poll the API far faster than any tenant should.
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix, PLAINLOOP_API_RATE_LIMIT: '0' }),
      redis: apiRedis,
      logger: createLogger({ service: 'test', level: 'silent' }),
      authentication: { keyring: ApiKeyring.of({ [apiKey]: 'acme' }) },
    });
    await api.listen({ host: '127.0.0.1', port: 0 });
    await waitFor(
      'the worker to publish its agents',
      async () => ((await redis.client.hlen(redis.keys.agents)) >= 4 ? true : undefined),
      60_000,
    );
  } catch (error) {
    await api?.close();
    await fleet.stop();
    await redis.close();
    throw error;
  }
  const started = api;
  return {
    baseUrl: `http://127.0.0.1:${(started.server.address() as AddressInfo).port}`,
    apiKey,
    redis,
    fleet,
    async stop() {
      await started.close();
      await fleet.stop();
      await redis.close();
    },
  };
}
