import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeToolCall = { id?: string; name: string; arguments: string | Record<string, unknown> };

export type FakeUsage = { prompt: number; completion: number; cached?: number; reasoning?: number };

/** One scripted answer of the fake server: a completion, an HTTP error, a hang, or a broken body. */
export type FakeReply =
  | {
      kind: 'completion';
      text?: string;
      toolCalls?: FakeToolCall[];
      usage?: FakeUsage;
      finishReason?: string;
    }
  | {
      kind: 'error';
      status: number;
      message?: string;
      type?: string;
      code?: string;
      headers?: Record<string, string>;
    }
  | { kind: 'hang' }
  | { kind: 'malformed' };

export type RecordedRequest = {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
};

export type FakeOpenAIServer = {
  /** Pass as the SDK's `baseURL` (it ends in `/v1`). */
  baseUrl: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Answers the next requests with these replies, in order. */
  enqueue(...replies: FakeReply[]): void;
  /** Answers requests the queue does not cover with this function. */
  respondWith(responder: (request: RecordedRequest) => FakeReply): void;
  close(): Promise<void>;
};

const defaultUsage: FakeUsage = { prompt: 20, completion: 5 };

/** The Chat Completions wire body for a reply, as the OpenAI API sends it. */
export function chatCompletionBody(
  reply: Extract<FakeReply, { kind: 'completion' }>,
  model: string,
  sequence: number,
) {
  const usage = reply.usage ?? defaultUsage;
  const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
    id: call.id ?? `call_${sequence}_${index}`,
    type: 'function',
    function: {
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
    },
  }));
  return {
    id: `chatcmpl-${sequence}`,
    object: 'chat.completion',
    created: 1_764_000_000,
    model,
    choices: [
      {
        index: 0,
        finish_reason: reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
        logprobs: null,
        message: {
          role: 'assistant',
          content: reply.text ?? (toolCalls.length > 0 ? null : ''),
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
      },
    ],
    usage: {
      prompt_tokens: usage.prompt,
      completion_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
      prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
      completion_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
    },
  };
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake', ...headers });
  response.end(JSON.stringify(body));
}

/**
 * A fake OpenAI server on 127.0.0.1 that speaks the Chat Completions wire protocol, for running the
 * real `openai` SDK in tests. It counts every request, so a test can prove a call was not made twice
 * (and that the SDK's own retries are off: one fault, one request).
 */
export async function startFakeOpenAIServer(): Promise<FakeOpenAIServer> {
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  let responder: ((request: RecordedRequest) => FakeReply) | undefined;

  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return sendJson(response, 400, {
        error: { message: 'request body is not JSON', type: 'invalid_request_error' },
      });
    }
    const recorded: RecordedRequest = {
      method: request.method ?? 'GET',
      path,
      headers: request.headers,
      body,
    };
    requests.push(recorded);
    if (!String(request.headers.authorization ?? '').startsWith('Bearer ')) {
      return sendJson(response, 401, {
        error: { message: 'missing API key', type: 'invalid_request_error', code: 'invalid_api_key' },
      });
    }
    if (request.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendJson(response, 404, {
        error: { message: `no route ${request.method} ${path}`, type: 'invalid_request_error' },
      });
    }
    const reply = queue.shift() ??
      responder?.(recorded) ?? {
        kind: 'error',
        status: 500,
        message: 'the fake server has no scripted reply',
      };
    switch (reply.kind) {
      case 'completion':
        return sendJson(response, 200, chatCompletionBody(reply, String(body.model), requests.length));
      case 'error':
        return sendJson(
          response,
          reply.status,
          {
            error: {
              message: reply.message ?? `error ${reply.status}`,
              type: reply.type ?? 'server_error',
              param: null,
              code: reply.code ?? null,
            },
          },
          reply.headers,
        );
      case 'hang':
        // Never answer; the client's timeout or abort must end the call.
        return;
      case 'malformed':
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"id": "chatcmpl-broken", "choices": [');
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    respondWith: (next) => {
      responder = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
