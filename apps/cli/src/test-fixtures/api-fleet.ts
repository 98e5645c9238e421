import type { AddressInfo } from 'node:net';
import { ApiKeyring, buildApi } from '@plainloop/api';
import { PlainloopClient } from '@plainloop/client';
import { loadConfig } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import type { FastifyInstance } from 'fastify';
import { type Fleet, startFleet } from './fleet-harness.ts';

const agentsPath = new URL('./client-agents.ts', import.meta.url).pathname;

export type ApiFleet = {
  /** Where the API listens, on 127.0.0.1. */
  baseUrl: string;
  /** A key of the tenant `acme`. */
  apiKey: string;
  /** A client of the API with that key. */
  client: PlainloopClient;
  /** The model a fork is sent to (a fork names its models, and scripted ones have no name): it answers every request alike. */
  openai: FakeProviderServer;
  redis: TestRedis;
  fleet: Fleet;
  stop(): Promise<void>;
};

/**
 * The real thing for client and CLI tests: the API on a real port (in the test's process, so a test
 * can start it cheaply) and one `plainloop worker` process running `client-agents.ts` on scripted
 * models, on the test run's Redis under a prefix of its own. Resolves once the worker has published
 * its agents. The worker can also call `openai:*` models, on a fake OpenAI server, for forks.
 */
export async function startApiFleet(apiKey: string): Promise<ApiFleet> {
  const openai = await startFakeOpenAIServer();
  openai.respondWith(() => ({
    kind: 'completion',
    text: JSON.stringify({ answer: 'answered by openai' }),
    usage: { prompt: 300, completion: 12 },
  }));
  const redis = await useTestRedis();
  const fleet = await startFleet({
    redisUrl: redis.url,
    prefix: redis.prefix,
    agentsPath,
    environment: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.baseUrl },
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
    await openai.close();
    throw error;
  }
  const started = api;
  const baseUrl = `http://127.0.0.1:${(started.server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    apiKey,
    client: new PlainloopClient({ baseUrl, apiKey }),
    openai,
    redis,
    fleet,
    async stop() {
      await started.close();
      await fleet.stop();
      await redis.close();
      await openai.close();
    },
  };
}
