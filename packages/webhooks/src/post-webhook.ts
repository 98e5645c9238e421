import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { WebhookDeliveryError } from './errors/webhook-delivery-error.ts';
import type { WebhookTarget } from './resolve-webhook-target.ts';

export type WebhookRequest = {
  body: string;
  headers: Readonly<Record<string, string>>;
  /** For the whole exchange: connecting, sending, and the receiver's status line. */
  timeoutMs: number;
};

/** A lookup that answers with the checked address whatever the name, so the socket goes nowhere else. */
function pinnedLookup(target: WebhookTarget): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

/**
 * POSTs one delivery and resolves with the receiver's 2xx status. Redirects are not followed (a 3xx is
 * a failed delivery like any other non-2xx): following one would reach a target nobody checked. A fresh
 * connection per delivery (no agent), so no pooled socket to an address checked earlier is reused. TLS
 * still verifies the certificate against the URL's host name.
 */
export function postWebhook(target: WebhookTarget, request: WebhookRequest): Promise<number> {
  const signal = AbortSignal.timeout(request.timeoutMs);
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  const host = target.url.host;
  return new Promise((resolve, reject) => {
    const outgoing = send(
      target.url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        lookup: pinnedLookup(target),
        agent: false,
        signal,
      },
      (response) => {
        const statusCode = response.statusCode ?? 0;
        // The answer is the status; the body is read and dropped so the receiver can finish writing it.
        response.resume();
        response.on('error', () => undefined);
        if (statusCode >= 200 && statusCode < 300) resolve(statusCode);
        else
          reject(new WebhookDeliveryError(`the receiver at ${host} answered ${statusCode}`, { statusCode }));
      },
    );
    outgoing.on('error', (error) => {
      reject(
        signal.aborted
          ? new WebhookDeliveryError(`the receiver at ${host} did not answer within ${request.timeoutMs} ms`)
          : new WebhookDeliveryError(`could not reach the receiver at ${host}: ${error.message}`, {
              cause: error,
            }),
      );
    });
    outgoing.end(request.body);
  });
}
