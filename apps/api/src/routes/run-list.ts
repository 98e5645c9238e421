import { RunStatus } from '@plainloop/contracts';
import type { RunStore } from '@plainloop/redis';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';

/** A position in a tenant's runs: the last run a page looked at. Opaque to clients. */
const Cursor = z.object({ createdAt: z.int().min(0), runId: z.string().min(1).max(100) });

function encodeCursor(cursor: z.infer<typeof Cursor>): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): z.infer<typeof Cursor> | undefined {
  try {
    const parsed = Cursor.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const ListQuery = z.strictObject({
  status: RunStatus.optional(),
  agent: z.string().min(1).max(64).optional(),
  threadId: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(500).optional().describe('`nextCursor` of the previous page'),
});

const RunSummary = z.object({
  runId: z.string(),
  agent: z.string(),
  status: RunStatus,
  threadId: z.string().optional(),
  costUsd: z.number(),
  steps: z.int(),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
});

const RunPage = z.object({
  runs: z.array(RunSummary),
  nextCursor: z.string().nullable().describe('Null when there is nothing more'),
});

/** How many runs one request looks at, at most, to fill a filtered page; the cursor goes on from there. */
const scanPerRequest = 1_000;

/**
 * `GET /v1/runs`: the tenant's runs, newest first, filtered by status, agent and thread, a page at a
 * time. A page may come back short (even empty) with a cursor when the filter matched few of the runs
 * it looked at; follow `nextCursor` until it is null.
 */
export function registerRunListRoutes(app: FastifyInstance, dependencies: { store: RunStore }) {
  const schema = {
    summary: 'List runs',
    description:
      'The tenant’s runs, newest first, filtered by status, agent and thread. A page may come back short (even empty) with a cursor when the filter matched few of the runs it looked at: follow `nextCursor` until it is null.',
    tags: ['runs'],
    querystring: ListQuery,
    response: { 200: RunPage, ...problems(400) },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/runs', { schema }, async (request, reply) => {
    const { status, agent, threadId, limit, cursor } = request.query;
    let after = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && after === undefined)
      return sendProblem(reply, 400, 'invalid_query', 'the cursor is not one this API gave out');
    const matches = [];
    let scanned = 0;
    let exhausted = false;
    while (matches.length < limit && scanned < scanPerRequest && !exhausted) {
      const page = await dependencies.store.page(request.tenantId, {
        ...(after ? { after } : {}),
        scan: 100,
      });
      exhausted = page.exhausted;
      for (const run of page.runs) {
        scanned += 1;
        after = { createdAt: run.createdAt, runId: run.runId };
        const fits =
          (status === undefined || run.status === status) &&
          (agent === undefined || run.agent === agent) &&
          (threadId === undefined || run.threadId === threadId);
        if (fits) matches.push(run);
        if (matches.length === limit) {
          exhausted = false;
          break;
        }
      }
      if (page.runs.length === 0) break;
    }
    return reply.send({
      runs: matches.map((run) => ({
        runId: run.runId,
        agent: run.agent,
        status: run.status,
        ...(run.threadId === undefined ? {} : { threadId: run.threadId }),
        costUsd: run.costUsd,
        steps: run.step,
        createdAt: new Date(run.createdAt).toISOString(),
        ...(run.finishedAt === undefined ? {} : { finishedAt: new Date(run.finishedAt).toISOString() }),
      })),
      nextCursor: exhausted || after === undefined ? null : encodeCursor(after),
    });
  });
}
