import type { AddressInfo } from 'node:net';
import { ApiKeyring, buildApi } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitOf, type Fleet, startFleet } from './test-fixtures/fleet-harness.ts';
import { monitoringModel } from './test-fixtures/monitoring-model.ts';

const agentsPath = new URL('./test-fixtures/monitoring-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
const key = 'key-of-the-acme-tenant-for-sse';

type ReceivedEvent = { id: string; type: string };

/**
 * A Server-Sent Events client: reads events from `url` (after `lastEventId`, if given) until
 * `enough` says to stop, then drops the connection, as a client whose network went away.
 */
async function readEvents(
  url: string,
  lastEventId: string | undefined,
  enough: (received: ReceivedEvent[]) => boolean,
): Promise<ReceivedEvent[]> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: controller.signal,
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const received: ReceivedEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let boundary = buffered.indexOf('\n\n');
      while (boundary >= 0) {
        const block = buffered.slice(0, boundary);
        buffered = buffered.slice(boundary + 2);
        const id = /^id: (.+)$/m.exec(block)?.[1];
        const type = /^event: (.+)$/m.exec(block)?.[1];
        if (id && type) received.push({ id, type });
        if (enough(received)) {
          controller.abort();
          return received;
        }
        boundary = buffered.indexOf('\n\n');
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return received;
}

describe('run events over Server-Sent Events', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let model: FakeProviderServer;
  let fleet: Fleet;
  let api: FastifyInstance;
  let baseUrl: string;

  beforeEach(async () => {
    redis = await useTestRedis();
    model = await startFakeOpenAIServer();
    model.respondWith(monitoringModel({ flakyIsDown: false, delayMs: 600 }));
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_PRICES_FILE: new URL('./test-fixtures/monitoring-prices.json', import.meta.url).pathname,
      },
    });
    api = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: redis.connect('producer'),
      logger,
      authentication: { keyring: ApiKeyring.of({ [key]: 'acme' }) },
    });
    await api.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await api.close();
    await fleet.stop();
    await model.close();
    await redis.close();
  });

  it('gives a client that reconnects with Last-Event-ID every event once, across a worker SIGKILL', async () => {
    const first = fleet.startWorker('worker-1');
    await waitFor('the worker', async () =>
      (await redis.client.hexists(redis.keys.agents, 'steady')) ? true : undefined,
    );
    const created = await fetch(`${baseUrl}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'steady', input: { plan: 'lookup' } }),
    });
    expect(created.status).toBe(202);
    const { runId } = (await created.json()) as { runId: string };
    const eventsUrl = `${baseUrl}/v1/runs/${runId}/events`;

    // The client sees the first model call, then loses its connection; the worker dies mid-run.
    const before = await readEvents(eventsUrl, undefined, (received) =>
      received.some((event) => event.type === 'llm.called'),
    );
    first.child.kill('SIGKILL');
    await exitOf(first);
    fleet.startWorker('worker-2');

    // It reconnects from the last event it saw and follows the run to its end.
    const after = await readEvents(eventsUrl, before.at(-1)?.id, () => false);
    const received = [...before, ...after];
    const stored = await new RunEventStream(redis.client, redis.keys).readRun('acme', runId);
    expect(received.map((event) => event.id)).toEqual(stored.map((entry) => entry.id));
    expect(new Set(received.map((event) => event.id)).size).toBe(received.length);
    expect(received.at(-1)?.type).toBe('run.finished');
    expect(received.map((event) => event.type)).toContain('run.resumed');

    // The timeline: two steps, the first with its model call and its tool call, the cost the run's.
    const steps = (await (
      await fetch(`${baseUrl}/v1/runs/${runId}/steps`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      costUsd: number;
      steps: Array<{
        step: number;
        tier: string;
        modelCalls: Array<{ model: string; costUsd: number }>;
        toolCalls: Array<{ tool: string; outcome: string }>;
      }>;
    };
    expect(steps.steps.map((step) => step.step)).toEqual([0, 1]);
    expect(steps.steps[0]).toMatchObject({
      tier: 'plan',
      modelCalls: [{ model: 'openai:steady' }],
      toolCalls: [{ tool: 'lookup', outcome: 'success' }],
    });
    expect(steps.steps[1]?.toolCalls).toEqual([]);
    const ledgered = steps.steps
      .flatMap((step) => step.modelCalls)
      .reduce((total, call) => total + call.costUsd, 0);
    expect(ledgered).toBeGreaterThan(0);
    expect(ledgered).toBeCloseTo(steps.costUsd, 12);

    // Another tenant's key finds no such run; no key is a 401.
    const anonymous = await fetch(eventsUrl);
    expect(anonymous.status).toBe(401);
  });
});
