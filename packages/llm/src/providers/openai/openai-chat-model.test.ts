import type { GenerateOptions, Message } from '@plainloop/contracts';
import { type FakeProviderServer, startFakeOpenAIServer } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { createOpenAIClient, OpenAIChatModel } from './openai-chat-model.ts';

// What every adapter must do is in the conformance suite (openai-conformance.test.ts); these are the
// OpenAI wire details on top of it.

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

describe('OpenAIChatModel wire details', () => {
  let server: FakeProviderServer;
  let model: OpenAIChatModel;
  beforeEach(async () => {
    server = await startFakeOpenAIServer();
    model = new OpenAIChatModel(
      'gpt-4.1-mini',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: server.baseUrl }),
    );
  });
  afterEach(() => server.close());

  it('sends the tool-call history as Chat Completions messages, keeping the ids', async () => {
    server.enqueue({ kind: 'completion', text: 'It is 18C in Paris.' });
    await model.doGenerate(
      options([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'call_abc', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }],
        },
        {
          role: 'tool',
          toolCallId: 'call_abc',
          toolName: 'get_weather',
          content: '{"temp_c":18}',
          isError: false,
        },
      ]),
    );
    expect(server.requests[0]?.headers.authorization).toBe('Bearer sk-test');
    expect(server.requests[0]?.body).toMatchObject({
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

  it('shortens tool call ids other providers made longer than OpenAI accepts, on both sides', async () => {
    server.enqueue({ kind: 'completion', text: 'ok' });
    const longId = `gemini-call-${'r'.repeat(40)}-0`;
    await model.doGenerate(
      options([
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: longId, name: 'get_weather', argumentsJson: '{}' }],
        },
        { role: 'tool', toolCallId: longId, toolName: 'get_weather', content: '18', isError: false },
      ]),
    );
    const messages = server.requests[0]?.body.messages as Array<{
      tool_calls?: Array<{ id: string }>;
      tool_call_id?: string;
    }>;
    const sent = messages[1]?.tool_calls?.[0]?.id ?? '';
    expect(sent.length).toBeLessThanOrEqual(40);
    expect(messages[2]?.tool_call_id).toBe(sent);
  });

  it('asks for structured output as a json_schema response format, not strict', async () => {
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

  it('passes arguments that are not even JSON through untouched for the validator to reject', async () => {
    server.enqueue({ kind: 'completion', toolCalls: [{ name: 'get_weather', arguments: '{"city": Par' }] });
    const result = await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result.toolCalls[0]?.argumentsJson).toBe('{"city": Par');
  });

  it('makes up tool call ids a loose OpenAI-compatible server leaves out', async () => {
    server.enqueue({
      kind: 'completion',
      toolCalls: [{ id: '', name: 'get_weather', arguments: { city: 'Oslo' } }],
    });
    const result = await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result.toolCalls[0]?.id).toBe('call_0');
  });

  it('keeps the request id and lets x-should-retry overrule the status', async () => {
    server.enqueue({
      kind: 'error',
      status: 500,
      message: 'permanent',
      headers: { 'x-should-retry': 'false' },
    });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({ kind: 'server', retryable: false, requestId: 'req_error' });
  });

  it('reads retry-after-ms before retry-after', async () => {
    server.enqueue({
      kind: 'error',
      status: 429,
      retryAfterSeconds: 9,
      headers: { 'retry-after-ms': '1500' },
    });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error.retryAfterMs).toBe(1_500);
  });

  it('shows a refusal as the text, with finish reason content_filter', async () => {
    server.enqueue({ kind: 'completion', text: 'I cannot help with that.', finishReason: 'content_filter' });
    const result = await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result).toMatchObject({ text: 'I cannot help with that.', finishReason: 'content_filter' });
  });
});
