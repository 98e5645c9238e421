import rateLimit from '@fastify/rate-limit';
import type { PlainloopConfig } from '@plainloop/config';
import type { KeySchema, RedisConnection } from '@plainloop/redis';
import type { FastifyInstance } from 'fastify';

/**
 * Per-tenant request limits on `/v1/`, counted in Redis so every API replica shares one count. A caller
 * over the limit gets a 429 problem with `retry-after`; every answer carries `x-ratelimit-*` headers. It
 * runs after authentication (the tenant is known) and before the body is validated, so invalid requests
 * count too. Redis down: requests pass (and meet the 503 of the route that needs Redis).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  settings: PlainloopConfig['api']['rateLimit'],
  redis: RedisConnection,
  keys: KeySchema,
): Promise<void> {
  if (settings.max === 0) return;
  await app.register(rateLimit, {
    global: true,
    hook: 'preValidation',
    max: settings.max,
    timeWindow: settings.windowMs,
    redis,
    nameSpace: `${keys.prefix}:rate-limit:`,
    skipOnError: true,
    keyGenerator: (request) => `tenant:${request.tenantId}`,
    allowList: (request) => !request.url.startsWith('/v1/'),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `this tenant sent more than ${context.max} requests in ${context.after === '1 minute' ? 'a minute' : context.after}; retry after the time in retry-after`,
    }),
  });
}
