import type { GenerateOptions, LanguageModel, Message } from '@plainloop/contracts';
import type { FakeProviderServer, RecordedRequest } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../errors/language-model-error.ts';

/** One adapter under test: how to start its fake server, make the model, and read its wire requests. */
export type ConformanceSubject = {
  provider: string;
  startServer(): Promise<FakeProviderServer>;
  createModel(baseUrl: string): LanguageModel;
  /** The HTTP status this provider uses for "overloaded" (503, or 529 for Anthropic). */
  overloadedStatus: number;
  /** Reads, from a recorded request, what the adapter sent: the system text, tool names, response schema. */
  wire: {
    system(request: RecordedRequest): string | undefined;
    toolNames(request: RecordedRequest): string[];
    responseSchema(request: RecordedRequest): unknown;
  };
};

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const hello: Message[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Weather in Paris?' },
];

function options(messages: readonly Message[], overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    messages,
    tools: [weatherTool],
    timeoutMs: 5_000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<LanguageModelError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LanguageModelError);
  return error as LanguageModelError;
}

/**
 * The conformance suite of the LanguageModel spec: every adapter, on its real SDK against a fake server
 * of its provider's wire protocol, must behave the same from the runtime's side. The fake servers
 * refuse a broken tool-call history as the real APIs do, so the round trip proves the conversion.
 */
export function describeLanguageModelConformance(subject: ConformanceSubject) {
  describe(`${subject.provider} adapter: LanguageModel conformance`, () => {
    let server: FakeProviderServer;
    let model: LanguageModel;
    beforeEach(async () => {
      server = await subject.startServer();
      model = subject.createModel(server.baseUrl);
    });
    afterEach(() => server.close());

    it('round-trips a tool call: an id for every call, the history converted back for the provider', async () => {
      server.enqueue(
        { kind: 'completion', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] },
        { kind: 'completion', text: 'It is 18C in Paris.' },
      );
      const first = await model.doGenerate(options(hello));
      expect(first.finishReason).toBe('tool_calls');
      expect(first.toolCalls).toHaveLength(1);
      const [call] = first.toolCalls;
      expect(call?.id).toMatch(/\S/);
      expect(call?.name).toBe('get_weather');
      expect(JSON.parse(call?.argumentsJson ?? 'null')).toEqual({ city: 'Paris' });

      const conversation: Message[] = [
        ...hello,
        { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
        {
          role: 'tool',
          toolCallId: call?.id ?? '',
          toolName: 'get_weather',
          content: '{"temp_c":18}',
          isError: false,
        },
      ];
      const second = await model.doGenerate(options(conversation));
      expect(second).toMatchObject({ text: 'It is 18C in Paris.', toolCalls: [], finishReason: 'stop' });
      expect(server.requests).toHaveLength(2);
    });

    it('sends the system text and the tools it was given', async () => {
      server.enqueue({ kind: 'completion', text: 'ok' });
      await model.doGenerate(options(hello));
      const [request] = server.requests;
      if (!request) throw new Error('no request recorded');
      expect(subject.wire.system(request)).toBe('Be brief.');
      expect(subject.wire.toolNames(request)).toEqual(['get_weather']);
    });

    it('asks for structured output with the response schema', async () => {
      server.enqueue({ kind: 'completion', text: '{"reply":"ok"}' });
      const schema = { type: 'object', properties: { reply: { type: 'string' } }, required: ['reply'] };
      const result = await model.doGenerate(options(hello, { responseSchema: { name: 'answer', schema } }));
      expect(JSON.parse(result.text)).toEqual({ reply: 'ok' });
      const [request] = server.requests;
      if (!request) throw new Error('no request recorded');
      expect(subject.wire.responseSchema(request)).toEqual(schema);
    });

    it('normalises usage: input includes cached tokens, output includes reasoning', async () => {
      server.enqueue({
        kind: 'completion',
        text: 'ok',
        usage: { prompt: 1_000, completion: 200, cached: 400, reasoning: 50 },
      });
      const result = await model.doGenerate(options(hello));
      expect(result.usage).toEqual({
        inputTokens: 1_000,
        cachedInputTokens: 400,
        outputTokens: 200,
        reasoningTokens: 50,
      });
    });

    it('maps the finish reasons length and content_filter', async () => {
      server.enqueue(
        { kind: 'completion', text: 'It is', finishReason: 'length' },
        { kind: 'completion', text: 'No.', finishReason: 'content_filter' },
      );
      expect((await model.doGenerate(options(hello))).finishReason).toBe('length');
      expect((await model.doGenerate(options(hello))).finishReason).toBe('content_filter');
    });

    it('passes tool arguments that do not fit the schema through, for the validator to reject', async () => {
      server.enqueue({ kind: 'completion', toolCalls: [{ name: 'get_weather', arguments: { town: 42 } }] });
      const result = await model.doGenerate(options(hello));
      expect(JSON.parse(result.toolCalls[0]?.argumentsJson ?? 'null')).toEqual({ town: 42 });
    });

    it('turns a 429 into rate_limit with the advised wait, after exactly one request', async () => {
      server.enqueue({ kind: 'error', status: 429, message: 'Rate limit reached', retryAfterSeconds: 7 });
      const error = await failureOf(model.doGenerate(options(hello)));
      expect(error).toMatchObject({
        kind: 'rate_limit',
        code: 'llm_rate_limit',
        status: 429,
        retryAfterMs: 7_000,
        retryable: true,
      });
      expect(error.model).toBe(`${model.provider}:${model.modelId}`);
      expect(error.message).toContain('Rate limit reached');
      expect(server.requests).toHaveLength(1);
    });

    it('turns a 500 into server and an overload into overloaded, both retryable', async () => {
      server.enqueue(
        { kind: 'error', status: 500, message: 'boom' },
        { kind: 'error', status: subject.overloadedStatus, message: 'busy' },
      );
      expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
        kind: 'server',
        status: 500,
        retryable: true,
      });
      expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
        kind: 'overloaded',
        status: subject.overloadedStatus,
        retryable: true,
      });
      expect(server.requests).toHaveLength(2);
    });

    it('tells auth, context length and other bad requests apart, none retryable', async () => {
      server.enqueue(
        { kind: 'error', status: 401, message: 'bad key' },
        { kind: 'error', status: 400, contextLength: true },
        { kind: 'error', status: 400, message: 'unknown parameter' },
      );
      const kinds = [];
      for (let index = 0; index < 3; index += 1) {
        const error = await failureOf(model.doGenerate(options(hello)));
        expect(error.retryable).toBe(false);
        kinds.push(error.kind);
      }
      expect(kinds).toEqual(['auth', 'context_length', 'bad_request']);
    });

    it('gives up on a hung server at the timeout', async () => {
      server.enqueue({ kind: 'hang' });
      const error = await failureOf(model.doGenerate(options(hello, { timeoutMs: 300 })));
      expect(error).toMatchObject({ kind: 'timeout', retryable: true });
    });

    it('stops when its AbortSignal fires, as aborted', async () => {
      server.enqueue({ kind: 'hang' });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const error = await failureOf(model.doGenerate(options(hello, { signal: controller.signal })));
      expect(error).toMatchObject({ kind: 'aborted', retryable: false });
    });

    it('treats a body that is not JSON as a retryable server fault', async () => {
      server.enqueue({ kind: 'malformed' });
      expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
        kind: 'server',
        retryable: true,
      });
    });

    it('reports a refused connection as connection', async () => {
      await server.close();
      expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
        kind: 'connection',
        retryable: true,
      });
    });
  });
}
