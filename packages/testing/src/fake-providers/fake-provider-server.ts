import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeEmbedding } from './fake-embedding.ts';

export type FakeToolCall = {
  id?: string;
  name: string;
  arguments: string | Record<string, unknown>;
  /** An opaque signature the provider wants back with the call (Gemini 3's `thoughtSignature`). */
  signature?: string;
};

/**
 * Usage in neutral terms: `prompt` counts every input token (cached ones included), `completion` every
 * output token (reasoning included). Each protocol writes it the way its provider reports usage, so
 * the conformance suite can check that every adapter normalises back to the same numbers.
 */
export type FakeUsage = { prompt: number; completion: number; cached?: number; reasoning?: number };

export type FakeFinishReason = 'stop' | 'length' | 'content_filter';

/** One scripted answer, in neutral terms: a completion, an HTTP error, a hang, or a broken body. */
export type FakeReply =
  | {
      kind: 'completion';
      /** Answer only after this long (a slow model). */
      delayMs?: number;
      text?: string;
      toolCalls?: FakeToolCall[];
      usage?: FakeUsage;
      finishReason?: FakeFinishReason;
    }
  | {
      kind: 'error';
      status: number;
      message?: string;
      /** The provider's own error code or type, where the test needs a specific one. */
      code?: string;
      /** The error says the prompt is over the model's context window, in the provider's words. */
      contextLength?: boolean;
      /** Advised wait, where the provider puts it (a header, or the body for Gemini). */
      retryAfterSeconds?: number;
      headers?: Record<string, string>;
    }
  | { kind: 'hang' }
  | { kind: 'malformed' };

export type CompletionReply = Extract<FakeReply, { kind: 'completion' }>;
export type ErrorReply = Extract<FakeReply, { kind: 'error' }>;

export type RecordedRequest = {
  /** When the request arrived (milliseconds since the epoch), to check how long a client waited. */
  receivedAt: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
};

export type WireResponse = { status: number; body: unknown; headers?: Record<string, string> };

/** The embedding endpoint of a provider's wire protocol. */
export type FakeEmbeddingProtocol = {
  /** Whether this method and path is the embedding call. */
  isEmbed(method: string, path: string): boolean;
  /** A reason to refuse the request with a 400, as the real API would (no texts, too many). */
  invalidRequest(request: RecordedRequest): string | undefined;
  /** The texts the request asks to embed, in order. */
  textsOf(request: RecordedRequest): string[];
  /** The wire body carrying one vector per text, in order. */
  embeddings(vectors: number[][], texts: string[], request: RecordedRequest, sequence: number): WireResponse;
};

/** What a provider's wire protocol looks like, for the shared fake server. */
export type FakeProtocol = {
  name: string;
  /** The value an SDK takes as its base URL, given the server's origin. */
  baseUrl(origin: string): string;
  /** Whether this method and path is the generate call; anything else is a 404. */
  isGenerate(method: string, path: string): boolean;
  /** Whether the request carries credentials in this provider's form. */
  isAuthorized(headers: IncomingHttpHeaders): boolean;
  /** A reason to refuse the request with a 400, as the real API would (a broken tool-call history). */
  invalidRequest(body: Record<string, unknown>): string | undefined;
  completion(reply: CompletionReply, request: RecordedRequest, sequence: number): WireResponse;
  error(reply: ErrorReply): WireResponse;
  /** The embedding call, for a provider that has one; without it that path is a 404. */
  embedding?: FakeEmbeddingProtocol;
};

export type FakeProviderServer = {
  /** Pass as the SDK's base URL. */
  baseUrl: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /**
   * Answers the next requests, generate or embed, with these replies, in order. For an embedding
   * request a `completion` means "answer with the vectors" (after its `delayMs`); the other kinds are
   * the same faults as for generate.
   */
  enqueue(...replies: FakeReply[]): void;
  /** Answers requests the queue does not cover with this function. */
  respondWith(responder: (request: RecordedRequest) => FakeReply): void;
  /** Computes the vector of each text an embedding request asks for; `fakeEmbedding` until set. */
  embedWith(embed: (text: string) => number[]): void;
  close(): Promise<void>;
};

function send(response: ServerResponse, { status, body, headers }: WireResponse) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/**
 * A fake provider on 127.0.0.1 speaking `protocol`, for running a real SDK in tests. It counts every
 * request, so a test can prove a call was not made twice (and that the SDK's own retries are off: one
 * fault, one request). Faults are scripted per request: errors, hangs, broken bodies.
 */
export async function startFakeProviderServer(protocol: FakeProtocol): Promise<FakeProviderServer> {
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  let responder: ((request: RecordedRequest) => FakeReply) | undefined;
  let embed: (text: string) => number[] = fakeEmbedding;
  let generated = 0;
  let embedded = 0;

  const server = createServer(async (request, response) => {
    let raw = '';
    for await (const chunk of request) raw += chunk;
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return send(
        response,
        protocol.error({ kind: 'error', status: 400, message: 'request body is not JSON' }),
      );
    }
    const recorded: RecordedRequest = {
      receivedAt: Date.now(),
      method: request.method ?? 'GET',
      path,
      headers: request.headers,
      body,
    };
    requests.push(recorded);
    if (!protocol.isAuthorized(request.headers)) {
      return send(
        response,
        protocol.error({ kind: 'error', status: 401, message: 'missing or malformed API key' }),
      );
    }
    const embedding = protocol.embedding?.isEmbed(recorded.method, path) ? protocol.embedding : undefined;
    if (!embedding && !protocol.isGenerate(recorded.method, path)) {
      return send(
        response,
        protocol.error({ kind: 'error', status: 404, message: `no route ${recorded.method} ${path}` }),
      );
    }
    const invalid = embedding ? embedding.invalidRequest(recorded) : protocol.invalidRequest(body);
    if (invalid) return send(response, protocol.error({ kind: 'error', status: 400, message: invalid }));
    // An embedding has one right answer, computed from the texts, so only its faults need scripting.
    const reply: FakeReply =
      queue.shift() ??
      responder?.(recorded) ??
      (embedding
        ? { kind: 'completion' }
        : { kind: 'error', status: 500, message: 'the fake server has no scripted reply' });
    switch (reply.kind) {
      case 'completion':
        if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
        if (embedding) {
          embedded += 1;
          const texts = embedding.textsOf(recorded);
          const vectors = texts.map((text) => embed(text));
          return send(response, embedding.embeddings(vectors, texts, recorded, embedded));
        }
        generated += 1;
        return send(response, protocol.completion(reply, recorded, generated));
      case 'error':
        return send(response, protocol.error(reply));
      case 'hang':
        // Never answer; the client's timeout or abort must end the call.
        return;
      case 'malformed':
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"id": "broken", "choices": [');
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: protocol.baseUrl(`http://127.0.0.1:${port}`),
    requests,
    enqueue: (...replies) => queue.push(...replies),
    respondWith: (next) => {
      responder = next;
    },
    embedWith: (next) => {
      embed = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
