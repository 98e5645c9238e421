import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type TargetPolicy = {
  /** Whether webhooks may reach loopback, private, link-local and other non-public addresses. */
  allowPrivateTargets: boolean;
};

export type UrlCheck = { ok: true } | { ok: false; reason: string };

/** IANA allocates global unicast IPv6 from here only; `::/96` (IPv4-compatible) and the like are not in it. */
const globalUnicastIPv6 = ipaddr.parseCIDR('2000::/3');

/**
 * Whether an IP address is on the public internet: ipaddr.js's `unicast` range only (so not loopback,
 * RFC 1918, link-local with the cloud metadata address, carrier-grade NAT, multicast, reserved,
 * documentation, 6to4, Teredo, NAT64...). An IPv4-mapped IPv6 address is judged by its IPv4 address,
 * since that is where a connection to it goes.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.range() === 'unicast';
  const ipv6 = parsed as ipaddr.IPv6;
  if (ipv6.isIPv4MappedAddress()) return ipv6.toIPv4Address().range() === 'unicast';
  return ipv6.range() === 'unicast' && ipv6.match(globalUnicastIPv6);
}

/** The URL's host as a resolver or an address parser wants it: no IPv6 brackets, no trailing dot. */
export function bareHostOf(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/**
 * Checks a webhook URL without resolving it, for an answer at submit time: http(s), no credentials in
 * the URL, and, unless private targets are allowed, a host that is not a non-public IP literal nor
 * `localhost`. WHATWG URL parsing has already turned every spelling of an IPv4 address (decimal, hex,
 * octal, short forms) into dotted decimal, so the literal checked is the one a connection would use.
 * A host name can still resolve to a private address: delivery checks again, resolved.
 */
export function checkWebhookUrl(url: string, policy: TargetPolicy): UrlCheck {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'the webhook url is not an absolute URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return { ok: false, reason: 'the webhook url must be http or https' };
  if (parsed.username !== '' || parsed.password !== '')
    return {
      ok: false,
      reason: 'the webhook url must not carry a user name or password (deliveries are signed instead)',
    };
  if (policy.allowPrivateTargets) return { ok: true };
  const host = bareHostOf(parsed).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost'))
    return { ok: false, reason: `the webhook target ${host} is this machine, not a public host` };
  if (isIP(host) !== 0 && !isPublicAddress(host))
    return { ok: false, reason: `the webhook target ${host} is not a public address` };
  return { ok: true };
}
