import { TenantId } from '@plainloop/contracts';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from '../problem.ts';
import type { ApiKeyring } from './api-keyring.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the request acts for: the owner of its API key. Set for every `/v1/` route. */
    tenantId: string;
  }
}

/**
 * Who may call the API: the holders of the keyring's keys, each acting for its tenant; or, for local
 * use only and when started so on purpose, anyone, as the tenant named by `X-Plainloop-Tenant` (or
 * `default`).
 */
export type Authentication = { keyring: ApiKeyring } | { insecure: true };

function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+/i.test(authorization))
    return authorization.replace(/^bearer\s+/i, '').trim();
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

/**
 * Every `/v1/` request must carry a key (`Authorization: Bearer <key>` or `X-API-Key`): 401 without one
 * or with one nobody owns. The tenant comes from the key alone, so no request can name another
 * tenant's runs; health checks and the OpenAPI document stay open.
 */
export function registerAuthentication(app: FastifyInstance, authentication: Authentication): void {
  app.decorateRequest('tenantId', '');
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    if ('insecure' in authentication) {
      const named = request.headers['x-plainloop-tenant'] ?? 'default';
      if (typeof named !== 'string' || !TenantId.safeParse(named).success)
        return sendProblem(
          reply,
          400,
          'invalid_tenant',
          'X-Plainloop-Tenant is not a tenant id (1-64 letters, digits, _ . or -)',
        );
      request.tenantId = named;
      return;
    }
    const key = presentedKey(request.headers);
    const tenantId = key ? authentication.keyring.tenantOf(key) : undefined;
    if (tenantId === undefined) {
      reply.header('www-authenticate', 'Bearer realm="plainloop"');
      return sendProblem(
        reply,
        401,
        'unauthenticated',
        key ? 'this API key is not valid' : 'send an API key: Authorization: Bearer <key>',
      );
    }
    request.tenantId = tenantId;
  });
}
