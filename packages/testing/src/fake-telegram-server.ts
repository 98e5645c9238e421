import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export type TelegramRequest = { botToken: string; method: string; body: Record<string, unknown> };

/** What the fake answers the next request with, when a test scripts a failure. */
export type TelegramFault = { status: 429; retryAfterSeconds: number } | { status: 500 | 401 };

export type FakeTelegramServer = {
  /** The Bot API base URL, for `TELEGRAM_API_URL`. */
  baseUrl: string;
  /** Every request that reached the server, answered or not. */
  requests: TelegramRequest[];
  /** The messages Telegram accepted (`sendMessage` answered 200). */
  delivered(): TelegramRequest[];
  /** The next requests fail with these answers, in order. */
  failNext(...faults: TelegramFault[]): void;
  /** Every answer from now on comes this late (a slow Telegram). */
  answerAfter(milliseconds: number): void;
  close(): Promise<void>;
};

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * A loopback stand-in for the Telegram Bot API: `POST /bot<token>/sendMessage` with a JSON body, answered
 * as Telegram does (`{ok: true, result}`, or `{ok: false, error_code, description, parameters}`).
 */
export async function startFakeTelegramServer(): Promise<FakeTelegramServer> {
  const requests: TelegramRequest[] = [];
  const accepted = new Set<TelegramRequest>();
  const faults: TelegramFault[] = [];
  let messageId = 0;
  let delayMs = 0;
  const server = createServer(async (request, response) => {
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(request.url ?? '');
    const body = await readJson(request);
    const reply = (status: number, payload: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    if (!match) return reply(404, { ok: false, error_code: 404, description: 'Not Found' });
    const recorded = { botToken: match[1] as string, method: match[2] as string, body };
    requests.push(recorded);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const fault = faults.shift();
    if (fault?.status === 429) {
      return reply(429, {
        ok: false,
        error_code: 429,
        description: `Too Many Requests: retry after ${fault.retryAfterSeconds}`,
        parameters: { retry_after: fault.retryAfterSeconds },
      });
    }
    if (fault)
      return reply(fault.status, {
        ok: false,
        error_code: fault.status,
        description: 'Internal Server Error',
      });
    if (recorded.method !== 'sendMessage' || typeof body.text !== 'string' || body.chat_id === undefined) {
      return reply(400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' });
    }
    accepted.add(recorded);
    messageId += 1;
    reply(200, { ok: true, result: { message_id: messageId, chat: { id: body.chat_id }, text: body.text } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    delivered: () => requests.filter((request) => accepted.has(request)),
    failNext: (...next) => faults.push(...next),
    answerAfter: (milliseconds) => {
      delayMs = milliseconds;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
