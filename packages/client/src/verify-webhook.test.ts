import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from './verify-webhook.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const body = JSON.stringify({ type: 'run.finished', runId: 'run_0123456789abcdef', status: 'succeeded' });

/** Signs as a Standard Webhooks sender does. */
function signed(payload: string, at = new Date(), key = secret) {
  const id = 'msg_1';
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1_000)),
    'webhook-signature': new Webhook(key).sign(id, at, payload),
  };
}

describe('verifying a run webhook', () => {
  it('returns the payload of a genuine delivery, from Node headers or fetch Headers', () => {
    const headers = signed(body);
    expect(verifyWebhook(secret, body, headers)).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, Buffer.from(body), new Headers(headers))).toEqual(JSON.parse(body));
    const shouted = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toUpperCase(), [value]]),
    );
    expect(verifyWebhook(secret, body, shouted)).toEqual(JSON.parse(body));
  });

  it('refuses a changed body, another secret, missing headers and an old delivery', () => {
    const headers = signed(body);
    const invalid = { code: 'invalid_webhook' };
    expect(() => verifyWebhook(secret, body.replace('succeeded', 'failed'), headers)).toThrow(
      expect.objectContaining(invalid),
    );
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    expect(() => verifyWebhook(other, body, headers)).toThrow(expect.objectContaining(invalid));
    expect(() => verifyWebhook(secret, body, { 'webhook-id': 'msg_1' })).toThrow(
      expect.objectContaining(invalid),
    );
    const old = signed(body, new Date(Date.now() - 10 * 60_000));
    expect(() => verifyWebhook(secret, body, old)).toThrow(expect.objectContaining(invalid));
  });
});
