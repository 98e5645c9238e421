import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStore } from '@plainloop/redis';
import type { RunEventStream } from '@plainloop/telemetry';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';
import { RunParams } from './run-parameters.ts';

export type RunEventRoutesDependencies = {
  store: RunStore;
  events: Pick<RunEventStream, 'readRun'>;
  /** How often the run's stream is read for new events while the client waits. */
  pollMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs?: number;
};

/** Stream ids only: anything else in `Last-Event-ID` starts the stream from the beginning. */
const streamId = /^\d+-\d+$/;

/**
 * `GET /v1/runs/:id/events`: the run's events as Server-Sent Events, each with its stream id as the
 * event id. A client that reconnects with `Last-Event-ID` (browsers do it themselves) gets every event
 * after that one, whatever happened meanwhile (a worker died, the API restarted): the events live in the
 * run's Redis stream, not in this process. The stream ends after `run.finished`.
 *
 * It polls the stream rather than blocking on it, so a thousand watchers cost no Redis connection each.
 */
export function registerRunEventRoutes(app: FastifyInstance, dependencies: RunEventRoutesDependencies) {
  const pollMs = dependencies.pollMs ?? 250;
  const heartbeatMs = dependencies.heartbeatMs ?? 15_000;
  // Open streams never end by themselves before their run does, and Fastify's close waits for them:
  // at shutdown each is told to end, and its client resumes from Last-Event-ID on another replica.
  const streams = new Set<AbortController>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const stream of streams) stream.abort();
  });
  const schema = {
    summary: 'Follow a run’s events (Server-Sent Events)',
    description:
      'Each event as `id:` (its stream id), `event:` (its type) and `data:` (the event as JSON); the stream ends after `run.finished`. Reconnect with `Last-Event-ID` to get every event after that one, once, whatever happened meanwhile.',
    tags: ['runs'],
    params: RunParams,
    headers: z.object({
      'last-event-id': z
        .string()
        .optional()
        .describe('Resume after this event (a stream id; anything else starts from the first event)'),
    }),
    produces: ['text/event-stream'],
    response: {
      200: z.string().describe('text/event-stream'),
      ...problems(400, 404),
    },
  };
  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/v1/runs/:runId/events', { schema }, async (request, reply) => {
      const { tenantId } = request;
      const { runId } = request.params;
      if ((await dependencies.store.load(tenantId, runId)) === undefined)
        return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
      const lastEventId = request.headers['last-event-id'];
      let after = typeof lastEventId === 'string' && streamId.test(lastEventId) ? lastEventId : '-';

      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = !closing;
      const stop = new AbortController();
      streams.add(stop);
      stop.signal.addEventListener('abort', () => {
        open = false;
      });
      request.raw.on('close', () => stop.abort());
      let quietSince = Date.now();
      try {
        while (open) {
          const entries = await dependencies.events.readRun(tenantId, runId, after, 200);
          for (const { id, event } of entries) {
            response.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
            after = id;
            if (event.type === 'run.finished') open = false;
          }
          if (!open) break;
          if (entries.length > 0) quietSince = Date.now();
          else if (Date.now() - quietSince >= heartbeatMs) {
            response.write(': still here\n\n');
            quietSince = Date.now();
          }
          if (entries.length < 200)
            await sleep(pollMs, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } catch (error) {
        request.log.warn({ err: error, runId }, 'event stream ended by an error');
      } finally {
        streams.delete(stop);
        response.end();
      }
    });
}
