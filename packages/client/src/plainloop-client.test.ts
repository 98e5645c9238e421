import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PlainloopApiError } from './plainloop-api-error.ts';
import { PlainloopClient } from './plainloop-client.ts';
import {
  type ScriptedServer,
  sendJson,
  sendProblem,
  sseEvent,
  startEventStream,
  startScriptedServer,
} from './test-fixtures/scripted-server.ts';

const runId = 'run_0123456789abcdef';
const fastRetries = { requests: 2, baseDelayMs: 5, maxDelayMs: 20 };
const request = { agent: 'research', input: { topic: 'stalled jobs' } };

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

describe('the HTTP client', () => {
  let server: ScriptedServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('turns a problem body into a PlainloopApiError with its code, detail and field errors', async () => {
    server = await startScriptedServer((_request, response) =>
      sendProblem(response, 422, 'invalid_input', 'the input does not fit agent research', {
        errors: ["input: must have required property 'topic'"],
      }),
    );
    const client = new PlainloopClient({ baseUrl: server.url, apiKey: 'key-1' });
    const failure = await failureOf(client.createRun(request));
    expect(failure).toBeInstanceOf(PlainloopApiError);
    expect(failure).toMatchObject({
      status: 422,
      code: 'invalid_input',
      detail: 'the input does not fit agent research',
      errors: ["input: must have required property 'topic'"],
      retryable: false,
      message:
        "invalid_input: the input does not fit agent research (input: must have required property 'topic')",
    });
    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/v1/runs' });
    expect(server.requests[0]?.headers.authorization).toBe('Bearer key-1');
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual(request);
  });

  it('retries a read on 429 after exactly the retry-after the API asked for', async () => {
    server = await startScriptedServer((_request, response, index) =>
      index === 0
        ? sendProblem(response, 429, 'rate_limited', 'too many requests', { headers: { 'retry-after': '1' } })
        : sendJson(response, 200, { runId, status: 'running' }),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    const started = Date.now();
    expect(await client.getRun(runId)).toMatchObject({ runId, status: 'running' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(2);
  });

  it('does not wait out a retry-after longer than its policy allows, and says how long it was', async () => {
    server = await startScriptedServer((_request, response) =>
      sendProblem(response, 429, 'rate_limited', 'too many requests', { headers: { 'retry-after': '120' } }),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    expect(await failureOf(client.getRun(runId))).toMatchObject({
      status: 429,
      code: 'rate_limited',
      retryable: true,
      retryAfterMs: 120_000,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('sends a run without an idempotency key once, whatever the failure', async () => {
    server = await startScriptedServer((_request, response) =>
      sendProblem(response, 503, 'unavailable', 'the run store is unavailable; retry shortly'),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    expect(await failureOf(client.createRun(request))).toMatchObject({ status: 503, retryable: true });
    expect(server.requests).toHaveLength(1);
  });

  it('retries a run with an idempotency key, sending the key as a header, and says when the run was replayed', async () => {
    server = await startScriptedServer((_request, response, index) =>
      index === 0
        ? sendProblem(response, 503, 'unavailable', 'the run store is unavailable; retry shortly')
        : sendJson(response, 200, { runId, status: 'queued' }, { 'idempotent-replayed': 'true' }),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    expect(await client.createRun(request, { idempotencyKey: 'job-42' })).toEqual({
      runId,
      status: 'queued',
      replayed: true,
    });
    expect(server.requests.map((each) => each.headers['idempotency-key'])).toEqual(['job-42', 'job-42']);
  });

  it('reports an API it cannot reach as status 0, code unreachable, after its retries', async () => {
    const baseUrl = `http://127.0.0.1:${await closedPort()}`;
    const client = new PlainloopClient({ baseUrl, retry: fastRetries });
    const failure = await failureOf(client.getRun(runId));
    expect(failure).toBeInstanceOf(PlainloopApiError);
    expect(failure).toMatchObject({ status: 0, code: 'unreachable', retryable: true });
    expect((failure as Error).message).toBe(
      `unreachable: cannot reach the plainloop API at ${baseUrl} (ECONNREFUSED)`,
    );
  });

  it('gives up on an API that does not answer within the timeout', async () => {
    server = await startScriptedServer(() => {});
    const client = new PlainloopClient({ baseUrl: server.url, timeoutMs: 200, retry: { requests: 0 } });
    expect(await failureOf(client.getRun(runId))).toMatchObject({ status: 0, code: 'timeout' });
  });

  it('says so when what answered is not a plainloop API', async () => {
    server = await startScriptedServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>welcome</html>');
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    expect(await failureOf(client.getRun(runId))).toMatchObject({ code: 'unexpected_response' });
  });

  it('follows the cursor through every page of a listing, filters on each request', async () => {
    const pages: Record<string, unknown> = {
      '': { runs: [{ runId: 'run_a' }], nextCursor: 'c1' },
      c1: { runs: [], nextCursor: 'c2' },
      c2: { runs: [{ runId: 'run_b' }, { runId: 'run_c' }], nextCursor: null },
    };
    server = await startScriptedServer((received, response) => {
      const cursor = new URL(received.url, 'http://x').searchParams.get('cursor') ?? '';
      sendJson(response, 200, pages[cursor]);
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    const seen: string[] = [];
    for await (const run of client.runs({ status: 'failed', limit: 2 })) seen.push(run.runId);
    expect(seen).toEqual(['run_a', 'run_b', 'run_c']);
    expect(server.requests.map((each) => each.url)).toEqual([
      '/v1/runs?status=failed&limit=2',
      '/v1/runs?status=failed&limit=2&cursor=c1',
      '/v1/runs?status=failed&limit=2&cursor=c2',
    ]);
  });

  it('waits for a run that already ended without opening its events', async () => {
    server = await startScriptedServer((_request, response) =>
      sendJson(response, 200, { runId, status: 'succeeded', output: 'done' }),
    );
    const client = new PlainloopClient({ baseUrl: server.url });
    expect(await client.waitForRun(runId)).toMatchObject({ status: 'succeeded', output: 'done' });
    expect(server.requests.map((each) => each.url)).toEqual([`/v1/runs/${runId}`]);
  });

  it('waits for a run through its events, and sees its end even when run.finished was lost', async () => {
    let reads = 0;
    server = await startScriptedServer((received, response) => {
      if (received.url.endsWith('/events')) {
        // The worker died between its last checkpoint and the event: the stream never ends.
        startEventStream(response);
        response.write(sseEvent('1-0', { type: 'run.started', runId }));
        return;
      }
      reads += 1;
      sendJson(response, 200, { runId, status: reads < 3 ? 'running' : 'succeeded', output: 'done' });
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    const events: string[] = [];
    const run = await client.waitForRun(runId, {
      pollIntervalMs: 50,
      onEvent: ({ event }) => events.push(event.type),
    });
    expect(run).toMatchObject({ status: 'succeeded', output: 'done' });
    expect(events).toEqual(['run.started']);
  });

  it('stops waiting at its timeout with wait_timeout', async () => {
    server = await startScriptedServer((received, response) => {
      if (received.url.endsWith('/events')) return startEventStream(response);
      sendJson(response, 200, { runId, status: 'running' });
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    expect(await failureOf(client.waitForRun(runId, { timeoutMs: 200 }))).toMatchObject({
      code: 'wait_timeout',
    });
  });

  it('sends a fork, a cancel and a decision to their routes', async () => {
    server = await startScriptedServer((received, response) => {
      if (received.url.endsWith('/fork'))
        return sendJson(response, 202, {
          runId: 'run_fork',
          status: 'queued',
          forkedFrom: { runId, step: 1 },
        });
      sendJson(response, 200, { runId });
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    expect(
      await client.fork(runId, {
        fromStep: 1,
        models: { execute: ['openai:gpt-4.1'] },
        idempotencyKey: 'f-1',
      }),
    ).toEqual({ runId: 'run_fork', status: 'queued', forkedFrom: { runId, step: 1 }, replayed: false });
    await client.cancel(runId, 'not needed');
    await client.approve(runId, 'call_0_0', { approved: false, comment: 'no' });
    expect(server.requests.map(({ method, url, body }) => ({ method, url, body: JSON.parse(body) }))).toEqual(
      [
        {
          method: 'POST',
          url: `/v1/runs/${runId}/fork`,
          body: { fromStep: 1, models: { execute: ['openai:gpt-4.1'] }, idempotencyKey: 'f-1' },
        },
        { method: 'POST', url: `/v1/runs/${runId}/cancel`, body: { reason: 'not needed' } },
        {
          method: 'POST',
          url: `/v1/runs/${runId}/approve`,
          body: { callId: 'call_0_0', approved: false, comment: 'no' },
        },
      ],
    );
    expect(server.requests[0]?.headers['idempotency-key']).toBe('f-1');
  });

  it('reads the tenant’s webhook secret with its key, and says when the deployment signs no webhooks', async () => {
    const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    server = await startScriptedServer((_request, response, index) =>
      index === 0
        ? sendJson(response, 200, { secret })
        : sendProblem(response, 422, 'webhooks_not_configured', 'this deployment signs no webhooks'),
    );
    const client = new PlainloopClient({ baseUrl: server.url, apiKey: 'key-1' });
    expect(await client.webhookSecret()).toEqual({ secret });
    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/v1/webhook-secret' });
    expect(server.requests[0]?.headers.authorization).toBe('Bearer key-1');
    expect(await failureOf(client.webhookSecret())).toMatchObject({
      status: 422,
      code: 'webhooks_not_configured',
    });
  });
});
