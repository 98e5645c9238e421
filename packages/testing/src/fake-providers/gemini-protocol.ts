import {
  type CompletionReply,
  type ErrorReply,
  type FakeProtocol,
  type FakeProviderServer,
  type FakeToolCall,
  type RecordedRequest,
  startFakeProviderServer,
  type WireResponse,
} from './fake-provider-server.ts';
import { geminiEmbeddingProtocol } from './gemini-embedding-protocol.ts';

const finishReasons = { stop: 'STOP', length: 'MAX_TOKENS', content_filter: 'SAFETY' } as const;

/** The google.rpc status each HTTP code stands for in Google's APIs. */
const rpcStatuses: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const generatePath = /^\/(v1|v1beta)\/models\/([^/:]+):generateContent$/;

type FunctionCall = { id?: string; name?: string };
type FunctionResponse = { id?: string; name?: string; response?: unknown };
type Part = { text?: string; functionCall?: FunctionCall; functionResponse?: FunctionResponse };
type Content = { role?: string; parts?: Part[] };

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A call is answered by a response of the same name, and of the same id when the call had one. */
function answers(call: FunctionCall, response: FunctionResponse): boolean {
  return response.name === call.name && (call.id === undefined || response.id === call.id);
}

/**
 * The rules of the real API that an adapter's conversion can break: turns need a known role and some
 * parts, every function call turn is answered in full by the next user turn (each response used once),
 * and a function response is a JSON object.
 */
function invalidContents(contents: Content[]): string | undefined {
  if (contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  for (const [turn, content] of contents.entries()) {
    if (content.role !== 'user' && content.role !== 'model') {
      return `Please use a valid role: user, model. Got: ${String(content.role)}`;
    }
    const parts = content.parts ?? [];
    if (parts.length === 0) {
      return `* GenerateContentRequest.contents[${turn}].parts: contents.parts must not be empty.`;
    }
    for (const [index, part] of parts.entries()) {
      if (part.functionResponse && !isJsonObject(part.functionResponse.response)) {
        return `Invalid value at 'contents[${turn}].parts[${index}].function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(part.functionResponse.response)}`;
      }
    }
    const calls = parts.flatMap((part) => (part.functionCall ? [part.functionCall] : []));
    if (content.role !== 'model' || calls.length === 0) continue;
    const next = contents[turn + 1];
    const unused = (next?.role === 'user' ? (next.parts ?? []) : []).flatMap((part) =>
      part.functionResponse ? [part.functionResponse] : [],
    );
    for (const call of calls) {
      const answer = unused.findIndex((response) => answers(call, response));
      if (answer === -1) {
        return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
      }
      unused.splice(answer, 1);
    }
  }
  return undefined;
}

function parsedArguments(call: FakeToolCall): Record<string, unknown> | undefined {
  if (typeof call.arguments !== 'string') return call.arguments;
  try {
    const parsed: unknown = JSON.parse(call.arguments);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function functionCallPart(call: FakeToolCall, args: Record<string, unknown>) {
  // The Developer API mostly leaves the id out; only a scripted id is sent.
  return {
    functionCall: { ...(call.id === undefined ? {} : { id: call.id }), name: call.name, args },
    ...(call.signature === undefined ? {} : { thoughtSignature: call.signature }),
  };
}

/** The generateContent wire body for a reply, as the Gemini Developer API sends it. */
function completion(reply: CompletionReply, request: RecordedRequest, sequence: number): WireResponse {
  const usage = reply.usage ?? { prompt: 20, completion: 5 };
  const cached = usage.cached ?? 0;
  const reasoning = usage.reasoning ?? 0;
  const calls: Array<ReturnType<typeof functionCallPart>> = [];
  for (const call of reply.toolCalls ?? []) {
    const args = parsedArguments(call);
    if (!args) {
      // Gemini sends `args` as an object, so it cannot say what an unparsable string would look like.
      return error({
        kind: 'error',
        status: 500,
        message: `the fake Gemini server cannot send arguments that are not a JSON object: ${String(call.arguments)}`,
      });
    }
    calls.push(functionCallPart(call, args));
  }
  const parts = [...(reply.text ? [{ text: reply.text }] : []), ...calls];
  return {
    status: 200,
    body: {
      candidates: [
        {
          // The API leaves `content` out of a candidate that produced nothing.
          ...(parts.length > 0 ? { content: { role: 'model', parts } } : {}),
          finishReason: finishReasons[reply.finishReason ?? 'stop'],
          index: 0,
        },
      ],
      // Gemini's candidates count leaves thoughts out, and zero counts are left out altogether (proto3
      // JSON), so an adapter that reads them naively gets the usage wrong.
      usageMetadata: {
        promptTokenCount: usage.prompt,
        candidatesTokenCount: usage.completion - reasoning,
        totalTokenCount: usage.prompt + usage.completion,
        ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
        ...(reasoning > 0 ? { thoughtsTokenCount: reasoning } : {}),
      },
      modelVersion: generatePath.exec(request.path)?.[2] ?? 'unknown',
      responseId: `fake-response-${sequence}`,
    },
  };
}

/** A google.rpc error body; `retryAfterSeconds` goes both in a RetryInfo detail and a header. */
function error(reply: ErrorReply): WireResponse {
  const status = reply.code ?? rpcStatuses[reply.status] ?? (reply.status >= 500 ? 'INTERNAL' : 'UNKNOWN');
  const message = reply.contextLength
    ? 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).'
    : (reply.message ?? `error ${reply.status}`);
  const retryInfo =
    reply.retryAfterSeconds === undefined
      ? []
      : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${reply.retryAfterSeconds}s` }];
  return {
    status: reply.status,
    headers: {
      ...(reply.retryAfterSeconds === undefined ? {} : { 'retry-after': String(reply.retryAfterSeconds) }),
      ...reply.headers,
    },
    body: {
      error: { code: reply.status, message, status, ...(retryInfo.length > 0 ? { details: retryInfo } : {}) },
    },
  };
}

export const geminiProtocol: FakeProtocol = {
  name: 'gemini',
  // The SDK appends `/{apiVersion}/models/...` to the origin itself.
  baseUrl: (origin) => origin,
  isGenerate: (method, path) => method === 'POST' && generatePath.test(path),
  isAuthorized: (headers) => String(headers['x-goog-api-key'] ?? '') !== '',
  invalidRequest: (body) => invalidContents((body.contents as Content[] | undefined) ?? []),
  completion,
  error,
  embedding: geminiEmbeddingProtocol,
};

/** A fake Gemini Developer API server; pass `baseUrl` as the SDK's `httpOptions.baseUrl`. */
export function startFakeGeminiServer(): Promise<FakeProviderServer> {
  return startFakeProviderServer(geminiProtocol);
}
