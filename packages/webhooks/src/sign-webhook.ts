import { createHmac } from 'node:crypto';
import { ConfigError } from '@plainloop/config';

const secretPattern = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
/** Standard Webhooks asks for keys of 24 to 64 bytes. */
const minimumKeyBytes = 24;

/**
 * The HMAC key of a Standard Webhooks secret (`whsec_` + base64 of the key), as every receiver's library
 * decodes it. A malformed or short secret stops the process at start-up rather than at the first run.
 */
export function signingKeyOf(secret: string): Buffer {
  const match = secretPattern.exec(secret.trim());
  const key = match?.[1] === undefined ? undefined : Buffer.from(match[1], 'base64');
  if (key === undefined || key.length < minimumKeyBytes)
    throw new ConfigError(
      `PLAINLOOP_WEBHOOK_SECRET must be whsec_ followed by the base64 of at least ${minimumKeyBytes} random bytes (openssl rand -base64 32)`,
    );
  return key;
}

/**
 * The Standard Webhooks headers of one delivery: `webhook-id` stays the same across retries (receivers
 * drop duplicates by it), `webhook-timestamp` is the time of this attempt (receivers refuse old ones,
 * which stops replays), and the signature covers both with the body.
 */
export function signedHeaders(
  key: Buffer,
  delivery: { id: string; timestampSeconds: number; body: string },
): Record<string, string> {
  const signed = `${delivery.id}.${delivery.timestampSeconds}.${delivery.body}`;
  const signature = createHmac('sha256', key).update(signed).digest('base64');
  return {
    'webhook-id': delivery.id,
    'webhook-timestamp': String(delivery.timestampSeconds),
    'webhook-signature': `v1,${signature}`,
  };
}
