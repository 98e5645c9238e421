import type { PlainloopConfig } from '@plainloop/config';
import { webhookSecretOf } from '@plainloop/webhooks';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';

const WebhookSecret = z.object({
  secret: z
    .string()
    .describe('`whsec_` + base64 of the tenant’s signing key: what its receivers verify deliveries with'),
});

/**
 * The caller's tenant's webhook secret. Each tenant's deliveries are signed with a key of its own,
 * derived from the deployment's secret, so a receiver holds only its own tenant's key: another tenant
 * cannot sign a delivery it would accept. Derived on each request, so nothing is stored.
 */
export function registerWebhookSecretRoutes(app: FastifyInstance, settings: PlainloopConfig['webhooks']) {
  const schema = {
    summary: 'The tenant’s webhook signing secret',
    description:
      'The Standard Webhooks secret that signs this tenant’s run webhooks and no other tenant’s. 422 `webhooks_not_configured` when the deployment has no PLAINLOOP_WEBHOOK_SECRET.',
    tags: ['runs'],
    response: { 200: WebhookSecret, ...problems(422) },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/webhook-secret', { schema }, async (request, reply) => {
    if (settings.secret === undefined)
      return sendProblem(
        reply,
        422,
        'webhooks_not_configured',
        'this deployment has no PLAINLOOP_WEBHOOK_SECRET, so it signs no webhooks',
      );
    // A secret: no cache on the way may keep it.
    reply.header('cache-control', 'no-store');
    return { secret: webhookSecretOf(settings.secret, request.tenantId) };
  });
}
