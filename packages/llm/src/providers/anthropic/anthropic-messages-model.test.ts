import Anthropic, { APIError } from '@anthropic-ai/sdk';
import type { GenerateOptions, Message } from '@plainloop/contracts';
import { type FakeProviderServer, startFakeAnthropicServer } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { toLanguageModelError } from './anthropic-errors.ts';
import { AnthropicMessagesModel, createAnthropicClient } from './anthropic-messages-model.ts';

// What every adapter must do is in the conformance suite (anthropic-conformance.test.ts); these are the
// Anthropic wire details on top of it.

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

/** A real SDK client whose fetch answers with this body, for answers the fake server never gives. */
function clientAnswering(body: string, contentType = 'application/json'): Anthropic {
  return new Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: 'http://anthropic.invalid',
    maxRetries: 0,
    logLevel: 'off',
    fetch: async () => new Response(body, { status: 200, headers: { 'content-type': contentType } }),
  });
}

describe('AnthropicMessagesModel wire details', () => {
  let server: FakeProviderServer;
  let model: AnthropicMessagesModel;
  beforeEach(async () => {
    server = await startFakeAnthropicServer();
    model = new AnthropicMessagesModel(
      'claude-sonnet-4-6',
      createAnthropicClient({ apiKey: 'sk-ant-test', baseUrl: server.baseUrl }),
    );
  });
  afterEach(() => server.close());

  it('sends top-level system, alternating turns, and the tool results in one user turn', async () => {
    server.enqueue({ kind: 'completion', text: '{"summary":"18C, no data for Oslo"}' });
    const schema = { type: 'object', properties: { summary: { type: 'string' } } };
    await model.doGenerate(
      options(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'system', content: 'Answer in English.' },
          { role: 'user', content: 'Weather in Paris and Oslo?' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [
              { id: 'toolu_paris', name: 'get_weather', argumentsJson: '{"city":"Paris"}' },
              { id: 'toolu_oslo', name: 'get_weather', argumentsJson: '{"city": Os' },
            ],
          },
          {
            role: 'tool',
            toolCallId: 'toolu_paris',
            toolName: 'get_weather',
            content: '{"temp_c":18}',
            isError: false,
          },
          {
            role: 'tool',
            toolCallId: 'toolu_oslo',
            toolName: 'get_weather',
            content: '{"code":"invalid_arguments"}',
            isError: true,
          },
          { role: 'user', content: 'Reply as JSON.' },
        ],
        { responseSchema: { name: 'answer', schema }, maxOutputTokens: 512 },
      ),
    );
    expect(server.requests[0]?.body).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 512,
      system: 'Be brief.\n\nAnswer in English.',
      tools: [
        { name: 'get_weather', description: weatherTool.description, input_schema: weatherTool.inputSchema },
      ],
      tool_choice: { type: 'auto' },
      output_config: { format: { type: 'json_schema', schema } },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
            // Arguments that were not a JSON object were already refused; the API needs an object.
            { type: 'tool_use', id: 'toolu_oslo', name: 'get_weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_paris', content: '{"temp_c":18}', is_error: false },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_oslo',
              content: '{"code":"invalid_arguments"}',
              is_error: true,
            },
            { type: 'text', text: 'Reply as JSON.' },
          ],
        },
      ],
    });
  });

  it('keeps the assistant text ahead of its tool calls, and joins a repair to an empty answer', async () => {
    server.enqueue({ kind: 'completion', text: 'ok' });
    await model.doGenerate(
      options([
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: 'Let me check.',
          toolCalls: [{ id: 'toolu_1', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }],
        },
        {
          role: 'tool',
          toolCallId: 'toolu_1',
          toolName: 'get_weather',
          content: '18C',
          isError: false,
        },
        { role: 'assistant', content: '', toolCalls: [] },
        { role: 'user', content: 'Answer with the temperature.' },
      ]),
    );
    const body = server.requests[0]?.body;
    expect(body).not.toHaveProperty('system');
    expect(body).toHaveProperty('tools');
    expect(body).not.toHaveProperty('output_config');
    expect(body?.max_tokens).toBe(4096);
    expect(body?.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C', is_error: false },
          { type: 'text', text: 'Answer with the temperature.' },
        ],
      },
    ]);
  });

  it('authenticates with a bearer token and sends the API version the SDK was built for', async () => {
    server.enqueue({ kind: 'completion', text: 'ok' });
    await model.doGenerate(options([{ role: 'user', content: 'hi' }]));
    const headers = server.requests[0]?.headers;
    expect(headers?.authorization).toBe('Bearer sk-ant-test');
    expect(headers?.['x-api-key']).toBeUndefined();
    expect(headers?.['anthropic-version']).toBe('2026-10-21');
  });

  it('adds the cache reads Anthropic counts apart back into the input tokens', async () => {
    const usage = { prompt: 1_000, completion: 200, cached: 400, reasoning: 50 };
    server.enqueue({ kind: 'completion', text: 'ok', usage }, { kind: 'completion', text: 'ok', usage });
    const client = createAnthropicClient({ apiKey: 'sk-ant-test', baseUrl: server.baseUrl });
    const raw = await client.messages.create(
      { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] },
      { timeout: 5_000 },
    );
    expect(raw.usage).toMatchObject({
      input_tokens: 600,
      cache_read_input_tokens: 400,
      output_tokens: 200,
      output_tokens_details: { thinking_tokens: 50 },
    });
    const result = await new AnthropicMessagesModel('claude-sonnet-4-6', client).doGenerate(
      options([{ role: 'user', content: 'hi' }]),
    );
    expect(result.usage).toEqual({
      inputTokens: 1_000,
      cachedInputTokens: 400,
      outputTokens: 200,
      reasoningTokens: 50,
    });
  });

  it('counts cache writes as input too, and usage fields the API leaves out as zero', async () => {
    const answer = (usage: Record<string, unknown>) =>
      JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'ok' }],
        stop_reason: 'end_turn',
        usage,
      });
    const written = await new AnthropicMessagesModel(
      'claude-sonnet-4-6',
      clientAnswering(
        answer({
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 300,
          cache_read_input_tokens: 0,
        }),
      ),
    ).doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(written.usage).toEqual({
      inputTokens: 310,
      cachedInputTokens: 0,
      outputTokens: 5,
      reasoningTokens: 0,
      cacheWriteTokens: 300,
    });

    const sparse = await new AnthropicMessagesModel(
      'claude-sonnet-4-6',
      clientAnswering(answer({ output_tokens: 5 })),
    ).doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(sparse.usage).toEqual({
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 5,
      reasoningTokens: 0,
    });
  });

  it('joins the text blocks and makes up tool call ids that come back empty', async () => {
    const result = await new AnthropicMessagesModel(
      'claude-sonnet-4-6',
      clientAnswering(
        JSON.stringify({
          id: 'msg_2',
          type: 'message',
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking ' },
            { type: 'text', text: 'both.' },
            { type: 'tool_use', id: '', name: 'get_weather', input: { city: 'Oslo' } },
          ],
          stop_reason: 'tool_use',
          usage: { input_tokens: 10, output_tokens: 5 },
        }),
      ),
    ).doGenerate(options([{ role: 'user', content: 'hi' }]));
    expect(result).toMatchObject({
      text: 'Checking both.',
      toolCalls: [{ id: 'toolu_0', name: 'get_weather', argumentsJson: '{"city":"Oslo"}' }],
      finishReason: 'tool_calls',
      responseId: 'msg_2',
    });
  });

  it('treats a 2xx answer that is not JSON as a server fault (the SDK hands it over as a string)', async () => {
    const error = await failureOf(
      new AnthropicMessagesModel(
        'claude-sonnet-4-6',
        clientAnswering('<html>gateway</html>', 'text/html'),
      ).doGenerate(options([{ role: 'user', content: 'hi' }])),
    );
    expect(error).toMatchObject({ kind: 'server', retryable: true });
  });

  it('turns a 529 overloaded_error into overloaded with the advised wait and the API sentence', async () => {
    server.enqueue({
      kind: 'error',
      status: 529,
      code: 'overloaded_error',
      message: 'Overloaded',
      retryAfterSeconds: 12,
    });
    const error = await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])));
    expect(error).toMatchObject({
      kind: 'overloaded',
      status: 529,
      retryAfterMs: 12_000,
      retryable: true,
      requestId: 'req_error',
      message: '529: Overloaded',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('lets x-should-retry overrule the status either way', async () => {
    server.enqueue(
      { kind: 'error', status: 529, message: 'Overloaded', headers: { 'x-should-retry': 'false' } },
      { kind: 'error', status: 400, message: 'try again', headers: { 'x-should-retry': 'true' } },
    );
    expect(await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])))).toMatchObject({
      kind: 'overloaded',
      retryable: false,
    });
    expect(await failureOf(model.doGenerate(options([{ role: 'user', content: 'hi' }])))).toMatchObject({
      kind: 'bad_request',
      retryable: true,
    });
    expect(server.requests).toHaveLength(2);
  });

  it('rewrites tool ids from other providers into the alphabet Anthropic accepts, the same on both sides', async () => {
    server.enqueue({ kind: 'completion', text: 'ok' });
    const foreignIds = ['functions.get_weather:0', 'call_1#2'];
    await model.doGenerate(
      options([
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: foreignIds.map((id) => ({ id, name: 'get_weather', argumentsJson: '{"city":"Paris"}' })),
        },
        ...foreignIds.map((id) => ({
          role: 'tool' as const,
          toolCallId: id,
          toolName: 'get_weather',
          content: '18',
          isError: false,
        })),
      ]),
    );
    const messages = server.requests[0]?.body.messages as Array<{
      content: Array<{ id?: string; tool_use_id?: string }>;
    }>;
    const sentIds = messages[1]?.content.map((block) => block.id) ?? [];
    expect(sentIds.every((id) => /^[a-zA-Z0-9_-]+$/.test(id ?? ''))).toBe(true);
    expect(new Set(sentIds).size).toBe(2);
    expect(messages[2]?.content.map((block) => block.tool_use_id)).toEqual(sentIds);
  });

  it('sends the tool history as text when no tools are offered (all were disabled), as the API requires', async () => {
    server.enqueue({ kind: 'completion', text: 'ok' });
    await model.doGenerate(
      options(
        [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [{ id: 'toolu_1', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }],
          },
          { role: 'tool', toolCallId: 'toolu_1', toolName: 'get_weather', content: '18', isError: false },
        ],
        { tools: [] },
      ),
    );
    const messages = server.requests[0]?.body.messages as Array<{
      content: Array<{ type: string; text?: string }>;
    }>;
    expect(messages.flatMap((turn) => turn.content.map((block) => block.type))).toEqual([
      'text',
      'text',
      'text',
    ]);
    expect(messages[1]?.content[0]?.text).toContain('[called get_weather with {"city":"Paris"}]');
  });

  it('is refused, as by the real API, when a tool call in the history has no result', async () => {
    const error = await failureOf(
      model.doGenerate(
        options([
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [{ id: 'toolu_lost', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }],
          },
          { role: 'user', content: 'Well?' },
        ]),
      ),
    );
    expect(error).toMatchObject({ kind: 'bad_request', status: 400, retryable: false });
    expect(error.message).toContain('toolu_lost');
  });
});

describe('Anthropic errors without a status', () => {
  // Errors sent inside a stream, after a 200, carry only the body's type; the SDK builds them so.
  const streamError = (type: string) =>
    new APIError(undefined, { type: 'error', error: { type, message: 'in stream' } }, undefined, undefined);

  it('classifies them by the error type', () => {
    expect(toLanguageModelError(streamError('overloaded_error'), 'anthropic:m')).toMatchObject({
      kind: 'overloaded',
      retryable: true,
      message: 'stream: in stream',
    });
    expect(toLanguageModelError(streamError('rate_limit_error'), 'anthropic:m').kind).toBe('rate_limit');
    expect(toLanguageModelError(streamError('api_error'), 'anthropic:m').kind).toBe('server');
  });
});
