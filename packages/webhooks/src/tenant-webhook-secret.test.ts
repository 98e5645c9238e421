import { createHmac, randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signedHeaders, signingKeyOf } from './sign-webhook.ts';
import { tenantSigningKeyOf, webhookSecretOf } from './tenant-webhook-secret.ts';

const masterKey = Buffer.alloc(32, 9);
const master = `whsec_${masterKey.toString('base64')}`;

describe('webhookSecretOf', () => {
  it('is whsec_ and the base64 of HMAC-SHA256(master key, "plainloop-webhook:" + tenant id)', () => {
    const expected = createHmac('sha256', masterKey).update('plainloop-webhook:acme').digest();
    expect(webhookSecretOf(master, 'acme')).toBe(`whsec_${expected.toString('base64')}`);
    expect(tenantSigningKeyOf(masterKey, 'acme')).toEqual(expected);
    // A valid Standard Webhooks secret in its own right: 32 bytes.
    expect(signingKeyOf(webhookSecretOf(master, 'acme'))).toHaveLength(32);
  });

  it('gives each tenant its own secret, the same on every call and in every process', () => {
    expect(webhookSecretOf(master, 'acme')).toBe(webhookSecretOf(master, 'acme'));
    expect(webhookSecretOf(master, 'acme')).not.toBe(webhookSecretOf(master, 'globex'));
    expect(webhookSecretOf(master, 'acme')).not.toBe(master);
    const otherDeployment = `whsec_${randomBytes(32).toString('base64')}`;
    expect(webhookSecretOf(otherDeployment, 'acme')).not.toBe(webhookSecretOf(master, 'acme'));
  });

  it('verifies what the tenant’s key signed, and not with another tenant’s secret or the deployment’s', () => {
    const body = JSON.stringify({ type: 'run.finished', runId: 'run_1', tenantId: 'acme' });
    const headers = signedHeaders(tenantSigningKeyOf(masterKey, 'acme'), {
      id: 'run_1',
      timestampSeconds: Math.floor(Date.now() / 1000),
      body,
    });
    expect(new Webhook(webhookSecretOf(master, 'acme')).verify(body, headers)).toMatchObject({
      runId: 'run_1',
    });
    expect(() => new Webhook(webhookSecretOf(master, 'globex')).verify(body, headers)).toThrow(
      WebhookVerificationError,
    );
    expect(() => new Webhook(master).verify(body, headers)).toThrow(WebhookVerificationError);
  });

  it('refuses a malformed deployment secret', () => {
    expect(() => webhookSecretOf('hunter2', 'acme')).toThrow('PLAINLOOP_WEBHOOK_SECRET must be whsec_');
  });
});
