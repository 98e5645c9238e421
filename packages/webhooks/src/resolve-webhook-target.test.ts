import { describe, expect, it, vi } from 'vitest';
import { WebhookDeliveryError } from './errors/webhook-delivery-error.ts';
import { WebhookTargetRefusedError } from './errors/webhook-target-refused-error.ts';
import { type ResolvedAddress, resolveWebhookTarget } from './resolve-webhook-target.ts';

/** A resolver that answers from the test, so no name is looked up and nothing is sent anywhere. */
function resolvingTo(...addresses: string[]) {
  return vi.fn(
    async (_hostname: string): Promise<ResolvedAddress[]> =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
  );
}

describe('resolveWebhookTarget', () => {
  it.each([['10.0.0.5'], ['169.254.169.254'], ['::ffff:127.0.0.1'], ['127.0.0.1'], ['fd00::7']])(
    'refuses a host name that resolves to %s',
    async (address) => {
      const resolveHost = resolvingTo(address);
      const refused = resolveWebhookTarget('https://hooks.example.com/plainloop', {
        allowPrivateTargets: false,
        resolveHost,
      });
      await expect(refused).rejects.toBeInstanceOf(WebhookTargetRefusedError);
      await expect(refused).rejects.toThrow(`resolves to ${address}, which is not a public address`);
      expect(resolveHost).toHaveBeenCalledWith('hooks.example.com');
    },
  );

  it('refuses a host when any of its addresses is internal, not only the first', async () => {
    await expect(
      resolveWebhookTarget('https://hooks.example.com/', {
        allowPrivateTargets: false,
        resolveHost: resolvingTo('93.184.215.14', '10.0.0.5'),
      }),
    ).rejects.toThrow('resolves to 10.0.0.5');
  });

  it('pins a public host to the first address it resolved and checked', async () => {
    const target = await resolveWebhookTarget('https://hooks.example.com:8443/a?b=c', {
      allowPrivateTargets: false,
      resolveHost: resolvingTo('93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'),
    });
    expect(target).toMatchObject({ address: '93.184.215.14', family: 4 });
    expect(target.url.href).toBe('https://hooks.example.com:8443/a?b=c');
  });

  it('does not resolve an IP literal, and refuses an internal one before resolving anything', async () => {
    const resolveHost = resolvingTo('93.184.215.14');
    await expect(
      resolveWebhookTarget('http://[::ffff:a9fe:a9fe]/', { allowPrivateTargets: false, resolveHost }),
    ).rejects.toBeInstanceOf(WebhookTargetRefusedError);
    await expect(
      resolveWebhookTarget('http://[2606:4700:4700::1111]:8080/', {
        allowPrivateTargets: false,
        resolveHost,
      }),
    ).resolves.toMatchObject({ address: '2606:4700:4700::1111', family: 6 });
    expect(resolveHost).not.toHaveBeenCalled();
  });

  it('takes internal addresses when the deployment allows them', async () => {
    await expect(
      resolveWebhookTarget('http://receiver.internal/', {
        allowPrivateTargets: true,
        resolveHost: resolvingTo('10.0.0.5'),
      }),
    ).resolves.toMatchObject({ address: '10.0.0.5', family: 4 });
  });

  it('reports a host that does not resolve as a failed delivery, to be retried', async () => {
    const failing = resolveWebhookTarget('https://hooks.example.com/', {
      allowPrivateTargets: false,
      resolveHost: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND hooks.example.com'), { code: 'ENOTFOUND' });
      },
    });
    await expect(failing).rejects.toBeInstanceOf(WebhookDeliveryError);
    await expect(failing).rejects.toThrow('could not resolve the webhook host hooks.example.com');
    await expect(
      resolveWebhookTarget('https://hooks.example.com/', {
        allowPrivateTargets: false,
        resolveHost: resolvingTo(),
      }),
    ).rejects.toThrow('has no address');
  });
});
