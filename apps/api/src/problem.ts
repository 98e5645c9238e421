import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** An RFC 9457 problem body: what every 4xx and 5xx of the API carries, never a stack trace. */
export const Problem = z
  .object({
    type: z.string().describe('A URL naming the kind of problem'),
    title: z.string().describe('The problem as a stable code, e.g. run_not_found, rate_limited'),
    status: z.int(),
    detail: z.string().describe('What went wrong, for a person'),
    errors: z.array(z.string()).optional().describe('Field-level reasons, when the request did not fit'),
  })
  .meta({ id: 'Problem' });
type Problem = z.infer<typeof Problem>;

/** The problem replies a route documents, by status; every route can also answer 401, 429, 500 and 503. */
export function problems<const Status extends number>(
  ...statuses: Status[]
): Record<Status | 401 | 429 | 500 | 503, typeof Problem> {
  const all = [...statuses, 401, 429, 500, 503] as Array<Status | 401 | 429 | 500 | 503>;
  return Object.fromEntries(all.map((status) => [status, Problem])) as Record<
    Status | 401 | 429 | 500 | 503,
    typeof Problem
  >;
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  errors?: string[],
) {
  const problem: Problem = {
    type: `https://plainloop.dev/problems/${code}`,
    title: code,
    status,
    detail,
    ...(errors ? { errors } : {}),
  };
  return reply.code(status).type('application/problem+json').send(problem);
}

const redisDown =
  /ECONNREFUSED|Connection is closed|enableOfflineQueue|MaxRetriesPerRequest|Stream isn't writeable/i;

/** What each part of a request is called in a problem's title and detail when it does not fit. */
const partOfRequest: Record<string, { code: string; detail: string }> = {
  body: { code: 'invalid_request', detail: 'the body is not valid' },
  params: { code: 'invalid_request', detail: 'the path is not valid' },
  querystring: { code: 'invalid_query', detail: 'the query is not valid' },
  headers: { code: 'invalid_request', detail: 'a header is not valid' },
};

/** Routes every error Fastify or a handler throws, and unknown routes, to a problem body. */
export function registerProblemHandlers(app: FastifyInstance) {
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const part = partOfRequest[error.validationContext ?? 'body'] ?? partOfRequest.body;
      const errors = error.validation.slice(0, 10).map((issue) => {
        const where = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return `${where || `(${error.validationContext ?? 'body'})`}: ${issue.message}`;
      });
      return sendProblem(reply, 400, part?.code ?? 'invalid_request', part?.detail ?? '', errors);
    }
    // JSON nested deeper than a schema's recursion survives: refused, not a crash.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return sendProblem(reply, 400, 'invalid_request', 'the body nests too deeply');
    }
    if (error.statusCode === 429) {
      return sendProblem(reply, 429, 'rate_limited', error.message);
    }
    if (error.statusCode === 413) {
      return sendProblem(
        reply,
        413,
        'body_too_large',
        `the request body is over the ${app.initialConfig.bodyLimit}-byte limit`,
      );
    }
    if (error.statusCode === 415) {
      return sendProblem(reply, 415, 'unsupported_media_type', 'send the body as application/json');
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own 4xx: a body that is not JSON, an empty JSON body, a bad header.
      return sendProblem(reply, error.statusCode, 'bad_request', error.message);
    }
    if (redisDown.test(error.message)) {
      request.log.error({ err: error }, 'redis unavailable');
      return sendProblem(reply, 503, 'unavailable', 'the run store is unavailable; retry shortly');
    }
    // A reply that does not fit its documented schema is our bug: logged in full, a 500 to the caller.
    if (isResponseSerializationError(error))
      request.log.error({ err: error, issues: error.cause.issues }, 'reply does not fit its schema');
    else request.log.error({ err: error }, 'unhandled error');
    return sendProblem(
      reply,
      500,
      'internal_error',
      'something went wrong on our side; the logs have the details',
    );
  });
}
