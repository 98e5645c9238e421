import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ReceivedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

export type ScriptedServer = {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
};

/**
 * A real HTTP server on 127.0.0.1 whose answers a test scripts, request by request (`index` counts
 * from 0). It records what the client sent, headers and body included.
 */
export async function startScriptedServer(
  answer: (request: ReceivedRequest, response: ServerResponse, index: number) => void | Promise<void>,
): Promise<ScriptedServer> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((incoming: IncomingMessage, response) => {
    let body = '';
    incoming.on('data', (chunk) => {
      body += chunk;
    });
    incoming.on('end', () => {
      const request = {
        method: incoming.method ?? '',
        url: incoming.url ?? '',
        headers: incoming.headers,
        body,
      };
      requests.push(request);
      void answer(request, response, requests.length - 1);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Writes a problem body, as the API does for every refusal. */
export function sendProblem(
  response: ServerResponse,
  status: number,
  code: string,
  detail: string,
  extra: { errors?: string[]; headers?: Record<string, string> } = {},
) {
  response.writeHead(status, { 'content-type': 'application/problem+json', ...extra.headers });
  response.end(
    JSON.stringify({
      type: `https://plainloop.dev/problems/${code}`,
      title: code,
      status,
      detail,
      ...(extra.errors ? { errors: extra.errors } : {}),
    }),
  );
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** One Server-Sent Event as the API writes it. */
export function sseEvent(id: string, event: { type: string; [field: string]: unknown }): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function startEventStream(response: ServerResponse) {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
}
