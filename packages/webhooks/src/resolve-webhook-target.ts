import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { bareHostOf, checkWebhookUrl, isPublicAddress, type TargetPolicy } from './check-webhook-url.ts';
import { WebhookDeliveryError } from './errors/webhook-delivery-error.ts';
import { WebhookTargetRefusedError } from './errors/webhook-target-refused-error.ts';

export type ResolvedAddress = { address: string; family: number };

/** Every address a host name resolves to (the system resolver by default, /etc/hosts included). */
export type ResolveHost = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Where a delivery goes: the URL, and the one address checked for it, which the connection must use. */
export type WebhookTarget = { url: URL; address: string; family: number };

const systemResolver: ResolveHost = (hostname) => lookup(hostname, { all: true });

/**
 * Resolves the webhook's host and checks every address it resolves to, not only the one a connection
 * would pick: a name with one private address among public ones is refused. The caller connects to the
 * address returned and to no other, so a second resolution (DNS rebinding) cannot swap it.
 */
export async function resolveWebhookTarget(
  url: string,
  policy: TargetPolicy & { resolveHost?: ResolveHost },
): Promise<WebhookTarget> {
  const check = checkWebhookUrl(url, policy);
  if (!check.ok) throw new WebhookTargetRefusedError(check.reason);
  const parsed = new URL(url);
  const host = bareHostOf(parsed);
  const literalFamily = isIP(host);
  if (literalFamily !== 0) return { url: parsed, address: host, family: literalFamily };
  let addresses: readonly ResolvedAddress[];
  try {
    addresses = await (policy.resolveHost ?? systemResolver)(host);
  } catch (error) {
    throw new WebhookDeliveryError(`could not resolve the webhook host ${host}`, { cause: error });
  }
  const first = addresses[0];
  if (first === undefined) throw new WebhookDeliveryError(`the webhook host ${host} has no address`);
  if (!policy.allowPrivateTargets) {
    const internal = addresses.find(({ address }) => !isPublicAddress(address));
    if (internal)
      throw new WebhookTargetRefusedError(
        `the webhook host ${host} resolves to ${internal.address}, which is not a public address`,
      );
  }
  return { url: parsed, address: first.address, family: first.family };
}
