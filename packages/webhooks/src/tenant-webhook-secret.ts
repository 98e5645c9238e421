import { createHmac } from 'node:crypto';
import { signingKeyOf } from './sign-webhook.ts';

/** Binds the derived keys to their use: nothing else derived from the deployment's secret can match them. */
const derivationLabel = 'plainloop-webhook:';

/**
 * The HMAC key of one tenant's webhooks: HMAC-SHA256 of the tenant id under the deployment's key. Every
 * tenant verifies with its own key, so one tenant's receiver cannot sign a delivery another tenant's
 * receiver would accept, and no key is stored: any worker derives it from `PLAINLOOP_WEBHOOK_SECRET`.
 */
export function tenantSigningKeyOf(masterKey: Buffer, tenantId: string): Buffer {
  return createHmac('sha256', masterKey).update(`${derivationLabel}${tenantId}`).digest();
}

/**
 * A tenant's webhook secret in Standard Webhooks form (`whsec_` + base64 of its key), what its
 * receivers verify with (`GET /v1/webhook-secret`). Throws a ConfigError for a malformed deployment secret.
 */
export function webhookSecretOf(masterSecret: string, tenantId: string): string {
  return `whsec_${tenantSigningKeyOf(signingKeyOf(masterSecret), tenantId).toString('base64')}`;
}
