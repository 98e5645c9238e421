import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/** An RFC 9457 problem body: what every 4xx and 5xx of the API carries, never a stack trace. */
type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Field-level reasons, when the request body did not fit. */
  errors?: string[];
};

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

/** Routes every error Fastify or a handler throws, and unknown routes, to a problem body. */
export function registerProblemHandlers(app: FastifyInstance) {
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
  app.setErrorHandler((error: FastifyError, request, reply) => {
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
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(
      reply,
      500,
      'internal_error',
      'something went wrong on our side; the logs have the details',
    );
  });
}
