import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPublicAddress } from './check-webhook-url.ts';

const strict = { allowPrivateTargets: false };
const allowed = { allowPrivateTargets: true };

describe('checkWebhookUrl', () => {
  it('accepts http and https URLs of public hosts and public addresses', () => {
    for (const url of [
      'https://hooks.example.com/plainloop',
      'http://hooks.example.com:8080/runs?token=abc',
      'https://8.8.8.8/hook',
      'https://[2606:4700:4700::1111]/hook',
      'https://[::ffff:8.8.8.8]/hook',
    ])
      expect(checkWebhookUrl(url, strict), url).toEqual({ ok: true });
  });

  it('refuses every spelling of loopback, private, link-local and other internal addresses', () => {
    for (const url of [
      'http://127.0.0.1/hook',
      'http://127.1/hook', // short form
      'http://2130706433/hook', // decimal
      'http://0x7f000001/hook', // hex
      'http://0177.0.0.1/hook', // octal
      'http://%31%32%37.0.0.1/hook', // percent-encoded
      'http://0/hook', // 0.0.0.0
      'http://10.0.0.5/hook',
      'http://172.16.3.4/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data/', // cloud metadata
      'http://100.64.0.1/hook', // carrier-grade NAT
      'http://224.0.0.1/hook',
      'http://255.255.255.255/hook',
      'http://192.0.2.1/hook', // documentation
      'http://[::1]/hook',
      'http://[0:0:0:0:0:0:0:1]/hook',
      'http://[::]/hook',
      'http://[::ffff:127.0.0.1]/hook', // IPv4-mapped
      'http://[::ffff:7f00:1]/hook',
      'http://[::ffff:10.0.0.5]/hook',
      'http://[::127.0.0.1]/hook', // IPv4-compatible (deprecated)
      'http://[fe80::1]/hook',
      'http://[fc00::1]/hook',
      'http://[fd12:3456::1]/hook',
      'http://[64:ff9b::a00:5]/hook', // NAT64
      'http://[2002:a00:5::]/hook', // 6to4
      'http://localhost/hook',
      'http://LOCALHOST:3000/hook',
      'http://localhost./hook',
      'http://api.localhost/hook',
    ]) {
      const check = checkWebhookUrl(url, strict);
      expect(check.ok, url).toBe(false);
    }
  });

  it('says why it refuses, naming the address a connection would use', () => {
    expect(checkWebhookUrl('http://0x7f000001:8080/hook', strict)).toEqual({
      ok: false,
      reason: 'the webhook target 127.0.0.1 is not a public address',
    });
    expect(checkWebhookUrl('http://localhost/hook', strict)).toEqual({
      ok: false,
      reason: 'the webhook target localhost is this machine, not a public host',
    });
  });

  it('allows internal targets only when configured to', () => {
    for (const url of [
      'http://127.0.0.1:4000/hook',
      'http://localhost/hook',
      'http://[::1]/',
      'http://10.0.0.5/',
    ])
      expect(checkWebhookUrl(url, allowed), url).toEqual({ ok: true });
  });

  it('refuses other schemes, credentials in the URL and what is not a URL, even when internal targets are allowed', () => {
    for (const policy of [strict, allowed]) {
      expect(checkWebhookUrl('ftp://hooks.example.com/', policy).ok).toBe(false);
      expect(checkWebhookUrl('file:///etc/passwd', policy).ok).toBe(false);
      expect(checkWebhookUrl('https://user:secret@hooks.example.com/', policy).ok).toBe(false);
      expect(checkWebhookUrl('https://user@hooks.example.com/', policy).ok).toBe(false);
      expect(checkWebhookUrl('/relative/path', policy).ok).toBe(false);
    }
  });

  it('leaves host names to the check at delivery, when they are resolved', () => {
    expect(checkWebhookUrl('http://127.0.0.1.nip.io/hook', strict)).toEqual({ ok: true });
  });
});

describe('isPublicAddress', () => {
  it('counts only unicast addresses as public', () => {
    expect(isPublicAddress('93.184.215.14')).toBe(true);
    expect(isPublicAddress('2a00:1450:4001:80b::200e')).toBe(true);
    expect(isPublicAddress('::ffff:93.184.215.14')).toBe(true);
    expect(isPublicAddress('10.0.0.5')).toBe(false);
    expect(isPublicAddress('169.254.169.254')).toBe(false);
    expect(isPublicAddress('::ffff:127.0.0.1')).toBe(false);
    expect(isPublicAddress('fd00::1')).toBe(false);
    expect(isPublicAddress('not an address')).toBe(false);
  });
});
