import { getEventListeners } from 'node:events';
import type { GenerateOptions, Message } from '@plainloop/contracts';
import {
  type FakeProtocol,
  type FakeProviderServer,
  geminiProtocol,
  startFakeGeminiServer,
  startFakeProviderServer,
} from '@plainloop/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { createGeminiClient, GeminiModel } from './gemini-model.ts';

// What every adapter must do is in the conformance suite (gemini-conformance.test.ts); these are the
// Gemini wire details on top of it.

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const hello: Message[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Weather in Paris and Oslo?' },
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

describe('GeminiModel wire details', () => {
  let server: FakeProviderServer;
  let model: GeminiModel;

  /** The fake Gemini server, with some of its protocol replaced where a test needs the real API's quirks. */
  async function start(overrides: Partial<FakeProtocol> = {}) {
    server = await startFakeProviderServer({ ...geminiProtocol, ...overrides });
    model = new GeminiModel(
      'gemini-2.5-flash',
      createGeminiClient({ apiKey: 'g-test', baseUrl: server.baseUrl }),
    );
  }

  afterEach(async () => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    await server.close();
  });

  it('posts to /v1/models/<model>:generateContent with the key in x-goog-api-key', async () => {
    server = await startFakeGeminiServer();
    model = new GeminiModel(
      'gemini-2.5-flash',
      createGeminiClient({ apiKey: 'g-test', baseUrl: server.baseUrl }),
    );
    server.enqueue({ kind: 'completion', text: 'ok' });
    await model.doGenerate(options(hello, { maxOutputTokens: 256 }));
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/models/gemini-2.5-flash:generateContent');
    expect(request?.headers['x-goog-api-key']).toBe('g-test');
    // The per-call timeout reached the SDK, which tells the server too.
    expect(request?.headers['x-server-timeout']).toBe('5');
    expect(request?.body).toMatchObject({
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Current weather for a city',
              parametersJsonSchema: weatherTool.inputSchema,
            },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
      generationConfig: { maxOutputTokens: 256 },
    });
  });

  it('asks for JSON with the schema as responseJsonSchema, and sends no tools when there are none', async () => {
    await start();
    server.enqueue({ kind: 'completion', text: '{"reply":"ok"}' });
    const schema = { type: 'object', properties: { reply: { type: 'string' } } };
    await model.doGenerate(options(hello, { tools: [], responseSchema: { name: 'answer', schema } }));
    const body = server.requests[0]?.body;
    expect(body?.generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
    });
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('toolConfig');
  });

  it('makes up ids the API leaves out, keeps the ones it gives, and sends back only the latter', async () => {
    await start();
    server.enqueue(
      {
        kind: 'completion',
        text: 'Let me check.',
        toolCalls: [
          { id: 'fc-from-api', name: 'get_weather', arguments: { city: 'Paris' } },
          { name: 'get_weather', arguments: '{"city":"Oslo"}' },
        ],
      },
      { kind: 'completion', text: 'Paris 18C; Oslo is unknown.' },
    );
    const first = await model.doGenerate(options(hello));
    expect(first.toolCalls).toEqual([
      { id: 'fc-from-api', name: 'get_weather', argumentsJson: '{"city":"Paris"}' },
      { id: 'gemini-call-fake-response-1-1', name: 'get_weather', argumentsJson: '{"city":"Oslo"}' },
    ]);
    const [paris, oslo] = first.toolCalls;
    if (!paris || !oslo) throw new Error('expected two tool calls');

    await model.doGenerate(
      options([
        ...hello,
        { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
        {
          role: 'tool',
          toolCallId: paris.id,
          toolName: 'get_weather',
          content: '{"temp_c":18}',
          isError: false,
        },
        {
          role: 'tool',
          toolCallId: oslo.id,
          toolName: 'get_weather',
          content: '{"error":{"code":"tool_error","message":"no station","retryable":false}}',
          isError: true,
        },
      ]),
    );
    const body = server.requests[1]?.body;
    expect(body?.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(body?.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'model',
        parts: [
          { text: 'Let me check.' },
          { functionCall: { id: 'fc-from-api', name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          {
            functionResponse: {
              id: 'fc-from-api',
              name: 'get_weather',
              response: { output: { temp_c: 18 } },
            },
          },
          {
            functionResponse: {
              name: 'get_weather',
              response: { error: { code: 'tool_error', message: 'no station', retryable: false } },
            },
          },
        ],
      },
    ]);
  });

  it('sends a call back with the thought signature it came with, as Gemini 3 requires', async () => {
    await start();
    server.enqueue(
      {
        kind: 'completion',
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, signature: 'c2lnbmVk' }],
      },
      { kind: 'completion', text: 'done' },
    );
    const first = await model.doGenerate(options(hello));
    expect(first.toolCalls[0]?.providerMetadata).toEqual({
      google: { thoughtSignature: 'c2lnbmVk', model: 'gemini-2.5-flash' },
    });
    await model.doGenerate(
      options([
        ...hello,
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        {
          role: 'tool',
          toolCallId: first.toolCalls[0]?.id ?? '',
          toolName: 'get_weather',
          content: '18',
          isError: false,
        },
      ]),
    );
    const contents = server.requests[1]?.body.contents as Array<{
      role: string;
      parts: Array<Record<string, unknown>>;
    }>;
    expect(contents.find((turn) => turn.role === 'model')?.parts[0]).toMatchObject({
      functionCall: { name: 'get_weather' },
      thoughtSignature: 'c2lnbmVk',
    });
  });

  it('stands in for the signature of calls a Gemini 3 model did not sign itself (a fallback mid-run)', async () => {
    await start();
    server.enqueue({ kind: 'completion', text: 'done' });
    const gemini3 = new GeminiModel(
      'gemini-3-flash',
      createGeminiClient({ apiKey: 'g-test', baseUrl: server.baseUrl }),
    );
    await gemini3.doGenerate(
      options([
        ...hello,
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'call_openai_1', name: 'get_weather', argumentsJson: '{"city":"Paris"}' },
            {
              id: 'gemini-call-r-1',
              name: 'get_weather',
              argumentsJson: '{"city":"Oslo"}',
              providerMetadata: { google: { thoughtSignature: 'b3RoZXI=', model: 'gemini-3-pro' } },
            },
          ],
        },
        { role: 'tool', toolCallId: 'call_openai_1', toolName: 'get_weather', content: '18', isError: false },
        {
          role: 'tool',
          toolCallId: 'gemini-call-r-1',
          toolName: 'get_weather',
          content: '9',
          isError: false,
        },
      ]),
    );
    const contents = server.requests[0]?.body.contents as Array<{
      role: string;
      parts: Array<Record<string, unknown>>;
    }>;
    const signatures = contents
      .find((turn) => turn.role === 'model')
      ?.parts.map((part) => part.thoughtSignature);
    expect(signatures).toEqual(['skip_thought_signature_validator', 'skip_thought_signature_validator']);
  });

  it('sends garbled arguments back as {} and a tool output that is not JSON as a string', async () => {
    await start();
    server.enqueue({ kind: 'completion', text: 'ok' });
    await model.doGenerate(
      options([
        ...hello,
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'gemini-call-r-0', name: 'get_weather', argumentsJson: '{"city": Par' }],
        },
        {
          role: 'tool',
          toolCallId: 'gemini-call-r-0',
          toolName: 'get_weather',
          content: '18C',
          isError: false,
        },
      ]),
    );
    expect(server.requests[0]?.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Oslo?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: {} } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18C' } } }] },
    ]);
  });

  it('adds thought tokens to the output and reads absent counts as zero', async () => {
    await start();
    server.enqueue({ kind: 'completion', text: 'ok', usage: { prompt: 100, completion: 80, reasoning: 30 } });
    const result = await model.doGenerate(options(hello));
    expect(result.usage).toEqual({
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 80,
      reasoningTokens: 30,
    });
    expect(result.responseId).toBe('fake-response-1');
  });

  it('leaves thought summaries out of the text, without the console warning of the SDK getter', async () => {
    await start({
      completion: () => ({
        status: 200,
        body: {
          candidates: [
            {
              content: {
                role: 'model',
                parts: [
                  { text: 'Thinking about the weather...', thought: true },
                  { text: 'Checking.' },
                  { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
                ],
              },
              finishReason: 'STOP',
            },
          ],
          responseId: 'r-thoughts',
        },
      }),
    });
    const warn = vi.spyOn(console, 'warn');
    server.enqueue({ kind: 'completion' });
    const result = await model.doGenerate(options(hello));
    expect(result).toMatchObject({ text: 'Checking.', finishReason: 'tool_calls' });
    expect(warn).not.toHaveBeenCalled();
  });

  it('reports a prompt blocked outright (no candidate) as content_filter', async () => {
    await start({
      completion: () => ({
        status: 200,
        body: {
          promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
          usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 },
          responseId: 'r-blocked',
        },
      }),
    });
    server.enqueue({ kind: 'completion' });
    const result = await model.doGenerate(options(hello));
    expect(result).toMatchObject({ text: '', toolCalls: [], finishReason: 'content_filter' });
    expect(result.usage.inputTokens).toBe(12);
  });

  it('reads the wait from the RetryInfo in the body when there is no retry-after header', async () => {
    await start({
      // The real API mostly puts the wait only in the body.
      error: (reply) => ({ ...geminiProtocol.error(reply), headers: {} }),
    });
    server.enqueue({
      kind: 'error',
      status: 429,
      message: 'Resource has been exhausted',
      retryAfterSeconds: 1.5,
    });
    const error = await failureOf(model.doGenerate(options(hello)));
    expect(error).toMatchObject({ kind: 'rate_limit', retryAfterMs: 1_500 });
    expect(error.message).toBe('429: Resource has been exhausted');
    expect(server.requests).toHaveLength(1);
  });

  it('reads the RESOURCE_EXHAUSTED status, not just the HTTP code', async () => {
    await start();
    server.enqueue({ kind: 'error', status: 400, code: 'RESOURCE_EXHAUSTED', message: 'quota' });
    expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
      kind: 'rate_limit',
      status: 400,
    });
  });

  it('treats the 400 the API gives for a wrong key as auth', async () => {
    await start({
      error: () => ({
        status: 400,
        body: {
          error: {
            code: 400,
            message: 'API key not valid. Please pass a valid API key.',
            status: 'INVALID_ARGUMENT',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                reason: 'API_KEY_INVALID',
                domain: 'googleapis.com',
              },
            ],
          },
        },
      }),
    });
    server.enqueue({ kind: 'error', status: 400 });
    expect(await failureOf(model.doGenerate(options(hello)))).toMatchObject({
      kind: 'auth',
      retryable: false,
    });
  });

  it('keeps each concurrent call to the retry-after header of its own response', async () => {
    await start();
    server.respondWith((request) => {
      const asksAbout = JSON.stringify(request.body.contents);
      return { kind: 'error', status: 429, retryAfterSeconds: asksAbout.includes('Paris') ? 3 : 9 };
    });
    // Hold each response until both have arrived, so the two calls' captures interleave: a capture
    // shared between calls would hand both of them the last one's headers.
    const realFetch = globalThis.fetch;
    let arrived = 0;
    let bothArrived: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      bothArrived = resolve;
    });
    vi.stubGlobal('fetch', async (...request: Parameters<typeof fetch>) => {
      const response = await realFetch(...request);
      arrived += 1;
      if (arrived === 2) bothArrived();
      await gate;
      return response;
    });
    const [paris, oslo] = await Promise.all([
      failureOf(model.doGenerate(options([{ role: 'user', content: 'Paris?' }]))),
      failureOf(model.doGenerate(options([{ role: 'user', content: 'Oslo?' }]))),
    ]);
    expect(paris.retryAfterMs).toBe(3_000);
    expect(oslo.retryAfterMs).toBe(9_000);
  });

  it('leaves no listener on the caller signal once calls end, however many share it', async () => {
    await start();
    const signal = new AbortController().signal;
    for (let call = 0; call < 12; call += 1) {
      server.enqueue(
        call % 2 === 0 ? { kind: 'completion', text: 'ok' } : { kind: 'error', status: 500, message: 'boom' },
      );
      await model.doGenerate(options(hello, { signal })).catch(() => undefined);
    }
    expect(server.requests).toHaveLength(12);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('refuses a conversation with only system text before making a request', async () => {
    await start();
    const error = await failureOf(model.doGenerate(options([{ role: 'system', content: 'Be brief.' }])));
    expect(error.kind).toBe('bad_request');
    expect(server.requests).toHaveLength(0);
  });
});
