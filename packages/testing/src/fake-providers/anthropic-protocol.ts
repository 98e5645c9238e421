import type { IncomingHttpHeaders } from 'node:http';
import {
  type CompletionReply,
  type ErrorReply,
  type FakeProtocol,
  type FakeProviderServer,
  type RecordedRequest,
  startFakeProviderServer,
  type WireResponse,
} from './fake-provider-server.ts';

const stopReasons = { stop: 'end_turn', length: 'max_tokens', content_filter: 'refusal' } as const;

const errorTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

type ContentBlock = { type?: string; id?: string; tool_use_id?: string; text?: string };
type Turn = { role?: string; content?: string | ContentBlock[] };

function blocksOf(turn: Turn): ContentBlock[] {
  return typeof turn.content === 'string' ? [{ type: 'text', text: turn.content }] : (turn.content ?? []);
}

function isEmpty(turn: Turn): boolean {
  return typeof turn.content === 'string' ? turn.content === '' : (turn.content ?? []).length === 0;
}

/** The turn-order rules of the Messages API: user first, then strictly alternating roles. */
function brokenTurnOrder(turns: Turn[]): string | undefined {
  if (turns.length === 0) return 'messages: at least one message is required';
  if (turns[0]?.role !== 'user') return 'messages: first message must use the "user" role';
  for (let index = 0; index < turns.length; index += 1) {
    const role = turns[index]?.role;
    if (role !== 'user' && role !== 'assistant') {
      return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    }
    if (index > 0 && turns[index - 1]?.role === role) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`;
    }
  }
  return undefined;
}

/**
 * The content rules the real API enforces on every turn but a final assistant one (a prefill): no empty
 * turns, no empty text blocks.
 */
function emptyContent(turns: Turn[]): string | undefined {
  for (let index = 0; index < turns.length; index += 1) {
    const turn = turns[index] ?? {};
    const isPrefill = index === turns.length - 1 && turn.role === 'assistant';
    if (isEmpty(turn) && !isPrefill) {
      return `messages.${index}: all messages must have non-empty content except for the optional final assistant message`;
    }
    if (Array.isArray(turn.content) && turn.content.some((block) => block.type === 'text' && !block.text)) {
      return 'messages: text content blocks must be non-empty';
    }
  }
  return undefined;
}

/**
 * The tool-use rules of the Messages API: every `tool_use` answered by a `tool_result` in the very next
 * user turn, no `tool_result` without its `tool_use` in the turn before, and the results ahead of any text.
 */
function brokenToolHistory(turns: Turn[]): string | undefined {
  for (let index = 0; index < turns.length; index += 1) {
    const turn = turns[index] ?? {};
    const blocks = blocksOf(turn);
    if (turn.role === 'assistant') {
      const calls = blocks.filter((block) => block.type === 'tool_use');
      const badId = calls.find((call) => !/^[a-zA-Z0-9_-]+$/.test(String(call.id)));
      if (badId) {
        return `messages.${index}.content: tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$' (got ${badId.id})`;
      }
      if (calls.length === 0) continue;
      const next = turns[index + 1];
      const answered = new Set(
        (next?.role === 'user' ? blocksOf(next) : [])
          .filter((block) => block.type === 'tool_result')
          .map((block) => block.tool_use_id),
      );
      const unanswered = calls.filter((call) => !answered.has(call.id)).map((call) => call.id);
      if (unanswered.length > 0) {
        return `messages.${index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
      continue;
    }
    const results = blocks.filter((block) => block.type === 'tool_result');
    if (results.length === 0) continue;
    const previous = turns[index - 1];
    const asked = new Set(
      blocksOf(previous ?? {})
        .filter((block) => block.type === 'tool_use')
        .map((block) => block.id),
    );
    const unexpected = results.find((block) => !asked.has(block.tool_use_id));
    if (unexpected) {
      return `messages.${index}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
    const firstOther = blocks.findIndex((block) => block.type !== 'tool_result');
    if (firstOther !== -1 && firstOther < results.length) {
      return `messages.${index}: \`tool_result\` blocks must come before any other content in a user message`;
    }
  }
  return undefined;
}

function invalidRequest(body: Record<string, unknown>): string | undefined {
  if (typeof body.model !== 'string') return 'model: Field required';
  if (body.max_tokens === undefined) return 'max_tokens: Field required';
  if (!Number.isInteger(body.max_tokens) || Number(body.max_tokens) < 1) {
    return 'max_tokens: Input should be a positive integer';
  }
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  const turns = body.messages as Turn[];
  const usesTools = turns.some((turn) =>
    blocksOf(turn).some((block) => block.type === 'tool_use' || block.type === 'tool_result'),
  );
  if (usesTools && !Array.isArray(body.tools)) {
    return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
  }
  return brokenTurnOrder(turns) ?? emptyContent(turns) ?? brokenToolHistory(turns);
}

function isAuthorized(headers: IncomingHttpHeaders): boolean {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return true;
  // SDK 1.x sends the key as a bearer token; older SDKs and other clients use x-api-key.
  return /^Bearer \S+/.test(String(headers.authorization ?? ''));
}

function toolInput(argumentsValue: string | Record<string, unknown>): Record<string, unknown> | undefined {
  if (typeof argumentsValue !== 'string') return argumentsValue;
  try {
    const parsed: unknown = JSON.parse(argumentsValue);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The Messages API wire body for a reply, as the Anthropic API sends it. */
function completion(reply: CompletionReply, request: RecordedRequest, sequence: number): WireResponse {
  const usage = reply.usage ?? { prompt: 20, completion: 5 };
  const cached = usage.cached ?? 0;
  const toolUses = [];
  for (const [index, call] of (reply.toolCalls ?? []).entries()) {
    const input = toolInput(call.arguments);
    // Anthropic's tool input is always a JSON object, so a script that cannot be one is the test's bug.
    if (!input) {
      return error({
        kind: 'error',
        status: 500,
        message: `the fake cannot send tool arguments that are not a JSON object: ${String(call.arguments)}`,
      });
    }
    toolUses.push({
      type: 'tool_use',
      id: call.id ?? `toolu_${sequence}_${index}`,
      name: call.name,
      input,
      caller: { type: 'direct' },
    });
  }
  const refused = reply.finishReason === 'content_filter';
  return {
    status: 200,
    headers: { 'request-id': `req_${sequence}` },
    body: {
      id: `msg_${sequence}`,
      type: 'message',
      role: 'assistant',
      model: String(request.body.model),
      content: [
        ...(reply.text === undefined ? [] : [{ type: 'text', text: reply.text, citations: null }]),
        ...toolUses,
      ],
      stop_reason: toolUses.length > 0 ? 'tool_use' : stopReasons[reply.finishReason ?? 'stop'],
      stop_sequence: null,
      stop_details: refused ? { type: 'refusal', category: null, explanation: null } : null,
      container: null,
      diagnostics: null,
      usage: {
        // Anthropic counts cache reads (and writes) apart from input_tokens, unlike the neutral usage.
        input_tokens: usage.prompt - cached,
        cache_read_input_tokens: cached,
        cache_creation_input_tokens: 0,
        output_tokens: usage.completion,
        output_tokens_details: { thinking_tokens: usage.reasoning ?? 0 },
        service_tier: 'standard',
      },
    },
  };
}

function error(reply: ErrorReply): WireResponse {
  const status = reply.contextLength ? 400 : reply.status;
  const type = reply.contextLength
    ? 'invalid_request_error'
    : (reply.code ?? errorTypes[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'));
  const message = reply.contextLength
    ? 'prompt is too long: 210000 tokens > 200000 maximum'
    : (reply.message ?? `error ${status}`);
  return {
    status,
    headers: {
      'request-id': 'req_error',
      ...(reply.retryAfterSeconds === undefined ? {} : { 'retry-after': String(reply.retryAfterSeconds) }),
      ...reply.headers,
    },
    body: { type: 'error', error: { type, message }, request_id: 'req_error' },
  };
}

export const anthropicProtocol: FakeProtocol = {
  name: 'anthropic',
  // The SDK appends `/v1/messages` itself.
  baseUrl: (origin) => origin,
  isGenerate: (method, path) => method === 'POST' && path === '/v1/messages',
  isAuthorized,
  invalidRequest,
  completion,
  error,
};

/** A fake Anthropic server speaking the Messages API; pass `baseUrl` as the SDK's `baseURL`. */
export function startFakeAnthropicServer(): Promise<FakeProviderServer> {
  return startFakeProviderServer(anthropicProtocol);
}
