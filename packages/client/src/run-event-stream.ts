import { setTimeout as sleep } from 'node:timers/promises';
import type { RunEvent } from '@plainloop/contracts';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { StreamedEvent } from './api-replies.ts';
import type { HttpTransport } from './http-transport.ts';
import { PlainloopApiError } from './plainloop-api-error.ts';
import { retryDelayMs } from './retry-policy.ts';

export type EventStreamOptions = {
  /** Start after this event (a stream id from an earlier `StreamedEvent`); from the first event without it. */
  lastEventId?: string | undefined;
  /** Aborting it ends the iteration quietly. */
  signal?: AbortSignal | undefined;
  /**
   * A connection silent this long is taken for dead and opened again. The API writes a heartbeat
   * every 15 s, so only a connection that died without closing (a lost network path) stays silent.
   */
  idleTimeoutMs?: number;
};

/** Why a connection was dropped on purpose: it went silent. */
class IdleMarker extends Error {}

/** The SSE messages of a response body, parsed by eventsource-parser; fails when the body goes silent. */
async function* messagesOf(
  body: ReadableStream<Uint8Array>,
  connection: AbortController,
  idleTimeoutMs: number,
): AsyncGenerator<EventSourceMessage> {
  const parsed: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => parsed.push(message) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (true) {
      // The silence is timed only while waiting for the server, not while the caller handles an event.
      const timer = setTimeout(
        () => connection.abort(new IdleMarker(`no data for ${idleTimeoutMs} ms`)),
        idleTimeoutMs,
      );
      const chunk = await reader.read().finally(() => clearTimeout(timer));
      if (chunk.done) return;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      while (parsed.length > 0) yield parsed.shift() as EventSourceMessage;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseEvent(runId: string, message: EventSourceMessage): RunEvent {
  try {
    const event: unknown = JSON.parse(message.data);
    if (event !== null && typeof event === 'object' && typeof (event as RunEvent).type === 'string')
      return event as RunEvent;
  } catch {
    // Reported below, with the run it came from.
  }
  throw new PlainloopApiError({
    status: 200,
    code: 'unexpected_response',
    detail: `event ${message.id} of run ${runId} is not a run event`,
  });
}

/**
 * Follows a run's events (`GET /v1/runs/:id/events`) until `run.finished`. A connection that drops
 * first (a network blip, an API restart, a silent socket) is opened again with `Last-Event-ID`, so
 * every event arrives once and in order, after a backoff, up to `retry.reconnects` times in a row;
 * an event that arrives resets the count. A refusal (401, 404) ends it at once.
 */
export async function* followRunEvents(
  transport: HttpTransport,
  runId: string,
  options: EventStreamOptions = {},
): AsyncGenerator<StreamedEvent> {
  const { signal } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  let lastEventId = options.lastEventId;
  let failuresInARow = 0;
  while (!signal?.aborted) {
    let failure: unknown;
    let connection: AbortController | undefined;
    try {
      const opened = await transport.open(
        {
          method: 'GET',
          path: `/v1/runs/${encodeURIComponent(runId)}/events`,
          headers: {
            accept: 'text/event-stream',
            ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
          },
          repeatable: true,
          signal,
        },
        { timeoutCoversBody: false },
      );
      connection = opened.connection;
      if (opened.response.body) {
        for await (const message of messagesOf(opened.response.body, connection, idleTimeoutMs)) {
          if (message.id === undefined) continue;
          const event = parseEvent(runId, message);
          lastEventId = message.id;
          failuresInARow = 0;
          yield { id: message.id, event };
          if (event.type === 'run.finished') return;
        }
      }
      failure = new PlainloopApiError({
        status: 0,
        code: 'stream_ended',
        detail: `the event stream of run ${runId} ended before the run finished`,
      });
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof PlainloopApiError && !error.retryable) throw error;
      // Anything else is a connection that failed mid-read: closed, reset, or dropped for its silence.
      failure = error;
    } finally {
      connection?.abort();
    }
    const delay =
      failuresInARow < transport.retry.reconnects
        ? retryDelayMs(
            transport.retry,
            failuresInARow,
            failure instanceof PlainloopApiError ? failure.retryAfterMs : undefined,
          )
        : undefined;
    if (delay === undefined) throw droppedError(runId, failure, failuresInARow);
    failuresInARow += 1;
    try {
      await sleep(delay, undefined, signal ? { signal } : {});
    } catch {
      return;
    }
  }
}

function droppedError(runId: string, failure: unknown, reconnections: number): PlainloopApiError {
  if (failure instanceof PlainloopApiError && reconnections === 0) return failure;
  const reason = failure instanceof Error ? failure.message : String(failure);
  return new PlainloopApiError({
    status: failure instanceof PlainloopApiError ? failure.status : 0,
    code: failure instanceof PlainloopApiError ? failure.code : 'unreachable',
    detail: `the event stream of run ${runId} dropped and ${reconnections} reconnections failed (${reason})`,
    cause: failure,
  });
}
