import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '@plainloop/client';

type ReceivedWebhook = { runId: string; status: string; verified: boolean };

export type WebhookReceiver = {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
};

/**
 * What a producer's backend does with run webhooks, for the demo: a receiver on 127.0.0.1 that checks
 * each delivery's signature with `verifyWebhook` and answers 204 (401 for one that is not genuine).
 * `secret` is its tenant's (`GET /v1/webhook-secret`), never the deployment's.
 */
export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const payload = verifyWebhook(secret, Buffer.concat(chunks), request.headers) as {
          runId: string;
          status: string;
        };
        received.push({ runId: payload.runId, status: payload.status, verified: true });
        response.writeHead(204).end();
      } catch {
        received.push({ runId: '?', status: '?', verified: false });
        response.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/plainloop-webhook`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
