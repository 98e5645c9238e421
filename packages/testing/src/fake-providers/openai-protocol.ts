import {
  type CompletionReply,
  type ErrorReply,
  type FakeProtocol,
  type FakeProviderServer,
  type RecordedRequest,
  startFakeProviderServer,
  type WireResponse,
} from './fake-provider-server.ts';
import { openaiEmbeddingProtocol } from './openai-embedding-protocol.ts';

const finishReasons = { stop: 'stop', length: 'length', content_filter: 'content_filter' } as const;

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'requests',
};

type ChatMessage = { role?: string; tool_calls?: Array<{ id?: string }>; tool_call_id?: string };

/** The Chat Completions rule the real API enforces: each tool call answered by a tool message, in turn. */
function brokenToolHistory(messages: ChatMessage[]): string | undefined {
  for (let index = 0; index < messages.length; index += 1) {
    const calls = messages[index]?.tool_calls ?? [];
    if (messages[index]?.role !== 'assistant' || calls.length === 0) continue;
    const answers = new Set<string>();
    for (let next = index + 1; next < messages.length && messages[next]?.role === 'tool'; next += 1) {
      answers.add(String(messages[next]?.tool_call_id));
    }
    const unanswered = calls.find((call) => !answers.has(String(call.id)));
    if (unanswered) {
      return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. Missing: ${unanswered.id}`;
    }
  }
  return undefined;
}

/** The Chat Completions wire body for a reply, as the OpenAI API sends it. */
function completion(reply: CompletionReply, request: RecordedRequest, sequence: number): WireResponse {
  const usage = reply.usage ?? { prompt: 20, completion: 5 };
  const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
    id: call.id ?? `call_${sequence}_${index}`,
    type: 'function',
    function: {
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
    },
  }));
  const refused = reply.finishReason === 'content_filter';
  return {
    status: 200,
    headers: { 'x-request-id': `req_${sequence}` },
    body: {
      id: `chatcmpl-${sequence}`,
      object: 'chat.completion',
      created: 1_764_000_000,
      model: String(request.body.model),
      choices: [
        {
          index: 0,
          finish_reason: toolCalls.length > 0 ? 'tool_calls' : finishReasons[reply.finishReason ?? 'stop'],
          logprobs: null,
          message: {
            role: 'assistant',
            content: refused ? null : (reply.text ?? (toolCalls.length > 0 ? null : '')),
            refusal: refused ? (reply.text ?? 'I cannot help with that.') : null,
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
    },
  };
}

function error(reply: ErrorReply): WireResponse {
  const message = reply.contextLength
    ? "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
    : (reply.message ?? `error ${reply.status}`);
  return {
    status: reply.status,
    headers: {
      'x-request-id': 'req_error',
      ...(reply.retryAfterSeconds === undefined ? {} : { 'retry-after': String(reply.retryAfterSeconds) }),
      ...reply.headers,
    },
    body: {
      error: {
        message,
        type: errorTypes[reply.status] ?? 'server_error',
        param: null,
        code: reply.contextLength ? 'context_length_exceeded' : (reply.code ?? null),
      },
    },
  };
}

export const openaiProtocol: FakeProtocol = {
  name: 'openai',
  baseUrl: (origin) => `${origin}/v1`,
  isGenerate: (method, path) => method === 'POST' && path === '/v1/chat/completions',
  isAuthorized: (headers) => String(headers.authorization ?? '').startsWith('Bearer '),
  invalidRequest: (body) => brokenToolHistory((body.messages as ChatMessage[] | undefined) ?? []),
  completion,
  error,
  embedding: openaiEmbeddingProtocol,
};

/** A fake OpenAI server speaking Chat Completions and Embeddings; pass `baseUrl` as the SDK's `baseURL`. */
export function startFakeOpenAIServer(): Promise<FakeProviderServer> {
  return startFakeProviderServer(openaiProtocol);
}
