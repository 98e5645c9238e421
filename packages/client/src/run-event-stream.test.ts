import { afterEach, describe, expect, it } from 'vitest';
import { PlainloopApiError } from './plainloop-api-error.ts';
import { PlainloopClient } from './plainloop-client.ts';
import {
  type ScriptedServer,
  sendProblem,
  sseEvent,
  startEventStream,
  startScriptedServer,
} from './test-fixtures/scripted-server.ts';

const runId = 'run_0123456789abcdef';
const event = (type: string, step?: number) => ({
  type,
  runId,
  tenantId: 'acme',
  agent: 'research',
  at: 1,
  ...(step === undefined ? {} : { step }),
});
const fastRetries = { reconnects: 3, baseDelayMs: 5, maxDelayMs: 20 };

async function collect(iterable: AsyncIterable<{ id: string; event: { type: string } }>) {
  const received: Array<{ id: string; type: string }> = [];
  for await (const { id, event } of iterable) received.push({ id, type: event.type });
  return received;
}

describe('following a run’s events', () => {
  let server: ScriptedServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('reconnects with Last-Event-ID when the connection drops, and delivers every event once, in order', async () => {
    server = await startScriptedServer((_request, response, index) => {
      startEventStream(response);
      if (index === 0) {
        response.write(': still here\n\n');
        response.write(sseEvent('1-0', event('run.queued')));
        response.write(sseEvent('2-0', event('run.started')));
        // Cut off in the middle of an event: the half that arrived must not be delivered.
        response.write('id: 3-0\nevent: step.started\ndata: {"type":"step.st');
        setTimeout(() => response.socket?.destroy(), 20);
      } else if (index === 1) {
        // This time the stream ends cleanly, but before the run finished: still a drop.
        response.write(sseEvent('3-0', event('step.started', 0)));
        response.end();
      } else {
        response.write(sseEvent('4-0', event('run.finished')));
        // Anything after run.finished is not read.
        response.write(sseEvent('5-0', event('run.queued')));
      }
    });
    const client = new PlainloopClient({ baseUrl: server.url, apiKey: 'key-1', retry: fastRetries });

    const received = await collect(client.events(runId));

    expect(received).toEqual([
      { id: '1-0', type: 'run.queued' },
      { id: '2-0', type: 'run.started' },
      { id: '3-0', type: 'step.started' },
      { id: '4-0', type: 'run.finished' },
    ]);
    expect(server.requests.map((request) => request.headers['last-event-id'])).toEqual([
      undefined,
      '2-0',
      '3-0',
    ]);
    expect(server.requests.every((request) => request.url === `/v1/runs/${runId}/events`)).toBe(true);
    expect(server.requests[0]?.headers.authorization).toBe('Bearer key-1');
    expect(server.requests[0]?.headers.accept).toBe('text/event-stream');
  });

  it('starts after the event it is given', async () => {
    server = await startScriptedServer((_request, response) => {
      startEventStream(response);
      response.write(sseEvent('9-0', event('run.finished')));
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    expect(await collect(client.events(runId, { lastEventId: '8-0' }))).toEqual([
      { id: '9-0', type: 'run.finished' },
    ]);
    expect(server.requests[0]?.headers['last-event-id']).toBe('8-0');
  });

  it('drops a connection that went silent and opens it again', async () => {
    server = await startScriptedServer((_request, response, index) => {
      startEventStream(response);
      if (index === 0) response.write(sseEvent('1-0', event('run.queued')));
      else response.write(sseEvent('2-0', event('run.finished')));
    });
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    const received = await collect(client.events(runId, { idleTimeoutMs: 300 }));
    expect(received.map((each) => each.id)).toEqual(['1-0', '2-0']);
    expect(server.requests[1]?.headers['last-event-id']).toBe('1-0');
  });

  it('gives up after a bounded number of failed reconnections, with the last failure', async () => {
    server = await startScriptedServer((_request, response) =>
      sendProblem(response, 503, 'unavailable', 'the run store is unavailable; retry shortly'),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    const failure = await collect(client.events(runId)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PlainloopApiError);
    expect(failure).toMatchObject({ status: 503, code: 'unavailable', retryable: true });
    expect(server.requests).toHaveLength(1 + fastRetries.reconnects);
  });

  it('stops at once when the API refuses (a run that does not exist), without reconnecting', async () => {
    server = await startScriptedServer((_request, response) =>
      sendProblem(response, 404, 'run_not_found', `no run ${runId}`),
    );
    const client = new PlainloopClient({ baseUrl: server.url, retry: fastRetries });
    const failure = await collect(client.events(runId)).catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 404, code: 'run_not_found', retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  it('ends quietly when the caller aborts, and closes the connection', async () => {
    let closed = false;
    server = await startScriptedServer((_request, response) => {
      startEventStream(response);
      response.write(sseEvent('1-0', event('run.queued')));
      response.on('close', () => {
        closed = true;
      });
    });
    const client = new PlainloopClient({ baseUrl: server.url });
    const controller = new AbortController();
    const received: string[] = [];
    for await (const { id } of client.events(runId, { signal: controller.signal })) {
      received.push(id);
      controller.abort();
    }
    expect(received).toEqual(['1-0']);
    await expect.poll(() => closed).toBe(true);
    expect(server.requests).toHaveLength(1);
  });
});
