import { PlainloopError } from '@plainloop/contracts';
import { Webhook } from 'standardwebhooks';

/** Request headers as Node's `IncomingMessage` or fetch's `Headers` give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

const signatureHeaders = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function headerOf(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((each) => each.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks that a run webhook comes from the fleet and returns its JSON payload. Webhooks follow
 * Standard Webhooks: `secret` is the fleet's `PLAINLOOP_WEBHOOK_SECRET` (`whsec_` + base64), `body` the
 * raw body exactly as received (parsed and re-serialised JSON no longer matches its signature), and a
 * signature older or newer than five minutes is refused, so a captured delivery cannot be replayed
 * later. Anything wrong is a `PlainloopError` with code `invalid_webhook`.
 */
export function verifyWebhook(secret: string, body: string | Buffer, headers: WebhookHeaders): unknown {
  const present: Record<string, string> = {};
  for (const name of signatureHeaders) {
    const value = headerOf(headers, name);
    if (value !== undefined) present[name] = value;
  }
  try {
    return new Webhook(secret).verify(body, present);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PlainloopError('invalid_webhook', `the webhook is not genuine: ${reason}`, { cause: error });
  }
}
