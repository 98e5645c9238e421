import type { PlainloopConfig } from '@plainloop/config';
import type { RunWebhook } from '@plainloop/contracts';
import { checkWebhookUrl } from '@plainloop/webhooks';
import type { FastifyReply } from 'fastify';
import { sendProblem } from '../problem.ts';

/**
 * Refuses, with a 422, a run whose webhook could never be delivered: the deployment has no signing
 * secret (no worker would take the delivery), or the URL names an internal address the deployment does
 * not allow. The delivery checks the address again once resolved; this answers the producer now.
 */
export function refuseUndeliverableWebhook(
  reply: FastifyReply,
  settings: PlainloopConfig['webhooks'],
  webhook: RunWebhook | undefined,
): boolean {
  if (webhook === undefined) return false;
  if (settings.secret === undefined) {
    sendProblem(
      reply,
      422,
      'webhooks_not_configured',
      'this deployment has no PLAINLOOP_WEBHOOK_SECRET, so no webhook can be signed and delivered',
    );
    return true;
  }
  const check = checkWebhookUrl(webhook.url, { allowPrivateTargets: settings.allowPrivateTargets });
  if (check.ok) return false;
  sendProblem(reply, 422, 'invalid_webhook', check.reason);
  return true;
}
