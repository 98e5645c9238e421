import type { GenerateOptions, Message } from '@plainloop/contracts';
import { type FakeOpenAIServer, startFakeOpenAIServer } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { createOpenAIClient, OpenAIChatModel } from './openai-chat-model.ts';

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

function options(messages: Message[], overrides: Partial<GenerateOptions> = {}): GenerateOptions {
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

describe('OpenAIChatModel on the real SDK against a loopback fake', () => {
  let server: FakeOpenAIServer;
  let model: OpenAIChatModel;
  beforeEach(async () => {
    server = await startFakeOpenAIServer();
    model = new OpenAIChatModel(
      'gpt-4.1-mini',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: server.baseUrl }),
    );
  });
  afterEach(() => server.close());

  it('makes a tool-call round trip with ids kept and usage normalised', async () => {
    server.enqueue(
      {
        kind: 'completion',
        toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: { city: 'Paris' } }],
        usage: { prompt: 120, completion: 15, cached: 100, reasoning: 4 },
      },
      { kind: 'completion', text: 'It is 18C in Paris.', usage: { prompt: 150, completion: 9 } },
    );
    const conversation: Message[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
    ];
    const first = await model.doGenerate(options(conversation));
    expect(first).toEqual({
      text: '',
      toolCalls: [{ id: 'call_abc', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 120, cachedInputTokens: 100, outputTokens: 15, reasoningTokens: 4 },
      responseId: 'chatcmpl-1',
    });

    conversation.push(
      { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
      {
        role: 'tool',
        toolCallId: 'call_abc',
        toolName: 'get_weather',
        content: '{"temp_c":18}',
        isError: false,
      },
    );
    const second = await model.doGenerate(options(conversation));
    expect(second).toMatchObject({ text: 'It is 18C in Paris.', toolCalls: [], finishReason: 'stop' });

    const wire = server.requests[1]?.body;
    expect(server.requests[1]?.headers.authorization).toBe('Bearer sk-test');
    expect(wire).toMatchObject({
      model: 'gpt-4.1-mini',
      tool_choice: 'auto',
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weatherTool.inputSchema } }],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_abc',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_abc', content: '{"temp_c":18}' },
      ],
    });
  });

  it('asks for a JSON answer with the response schema', async () => {
    server.enqueue({ kind: 'completion', text: '{"reply":"ok"}' });
    const schema = { type: 'object', properties: { reply: { type: 'string' } } };
    await model.doGenerate(
      options([{ role: 'user', content: 'hi' }], { responseSchema: { name: 'answer', schema } }),
    );
    expect(server.requests[0]?.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'answer', schema, strict: false },
    });
  });

  it('passes garbage tool arguments through untouched for the validator to reject', async () => {
    server.enqueue({ kind: 'completion', toolCalls: [{ name: 'get_weather', arguments: '{"city": Par' }] });
    const result = await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result.toolCalls[0]?.argumentsJson).toBe('{"city": Par');
  });

  it('turns a 429 into rate_limit with the retry-after, after one request', async () => {
    server.enqueue({
      kind: 'error',
      status: 429,
      message: 'Rate limit reached',
      type: 'requests',
      headers: { 'retry-after': '7' },
    });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({
      kind: 'rate_limit',
      code: 'llm_rate_limit',
      status: 429,
      retryAfterMs: 7_000,
      retryable: true,
      model: 'openai:gpt-4.1-mini',
      requestId: 'req_fake',
    });
    expect(error.message).toContain('Rate limit reached');
    expect(server.requests).toHaveLength(1);
  });

  it('turns a 500 into server and a 503 into overloaded, both retryable', async () => {
    server.enqueue(
      { kind: 'error', status: 500, message: 'boom' },
      { kind: 'error', status: 503, message: 'busy' },
    );
    const serverError = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    const overloaded = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(serverError).toMatchObject({ kind: 'server', status: 500, retryable: true });
    expect(overloaded).toMatchObject({ kind: 'overloaded', status: 503, retryable: true });
    expect(server.requests).toHaveLength(2);
  });

  it('lets the provider overrule the status with x-should-retry', async () => {
    server.enqueue({
      kind: 'error',
      status: 500,
      message: 'permanent',
      headers: { 'x-should-retry': 'false' },
    });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({ kind: 'server', retryable: false });
  });

  it('makes up tool call ids a loose OpenAI-compatible server leaves out', async () => {
    server.enqueue({
      kind: 'completion',
      toolCalls: [{ id: '', name: 'get_weather', arguments: { city: 'Oslo' } }],
    });
    const result = await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result.toolCalls[0]?.id).toBe('call_0');
  });

  it('tells auth, context length and other bad requests apart, none retryable', async () => {
    server.enqueue(
      { kind: 'error', status: 401, message: 'bad key' },
      {
        kind: 'error',
        status: 400,
        message: "This model's maximum context length is 128000 tokens",
        code: 'context_length_exceeded',
      },
      { kind: 'error', status: 400, message: 'unknown parameter' },
    );
    const kinds = [];
    for (let index = 0; index < 3; index += 1) {
      const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
      expect(error.retryable).toBe(false);
      kinds.push(error.kind);
    }
    expect(kinds).toEqual(['auth', 'context_length', 'bad_request']);
  });

  it('gives up on a hung server at the timeout', async () => {
    server.enqueue({ kind: 'hang' });
    const error = await failureOf(
      model.doGenerate(options([{ role: 'user', content: 'hi' }], { timeoutMs: 300 })),
    );
    expect(error).toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('stops when its AbortSignal fires, as aborted', async () => {
    server.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failureOf(
      model.doGenerate(options([{ role: 'user', content: 'hi' }], { signal: controller.signal })),
    );
    expect(error).toMatchObject({ kind: 'aborted', retryable: false });
  });

  it('treats a body that is not JSON as a retryable server fault', async () => {
    server.enqueue({ kind: 'malformed' });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({ kind: 'server', retryable: true });
  });

  it('reports a refused connection as connection', async () => {
    await server.close();
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({ kind: 'connection', retryable: true });
  });
});
