import { getEventListeners } from 'node:events';
import type { EmbedOptions } from '@plainloop/contracts';
import {
  type FakeEmbeddingProtocol,
  type FakeProviderServer,
  fakeEmbedding,
  geminiProtocol,
  startFakeGeminiServer,
  startFakeProviderServer,
} from '@plainloop/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { createGeminiClient } from './gemini-model.ts';
import { GoogleEmbeddingModel } from './google-embedding-model.ts';

const texts = ['The cat sat on the mat', 'Paris is in France', 'Oslo'];

function options(overrides: Partial<EmbedOptions> = {}): EmbedOptions {
  return { values: texts, timeoutMs: 5_000, signal: new AbortController().signal, ...overrides };
}

async function failureOf(promise: Promise<unknown>): Promise<LanguageModelError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LanguageModelError);
  return error as LanguageModelError;
}

const wireEmbeddings = geminiProtocol.embedding as FakeEmbeddingProtocol;

describe('GoogleEmbeddingModel on the real SDK', () => {
  let server: FakeProviderServer;
  async function start(embedding: Partial<FakeEmbeddingProtocol> = {}) {
    server = await startFakeProviderServer({
      ...geminiProtocol,
      embedding: { ...wireEmbeddings, ...embedding },
    });
  }
  function modelFor(modelId: string) {
    return new GoogleEmbeddingModel(
      modelId,
      createGeminiClient({ apiKey: 'g-test', baseUrl: server.baseUrl }),
    );
  }
  afterEach(() => server.close());

  it('embeds several texts in one batchEmbedContents request, in order, with the usage', async () => {
    server = await startFakeGeminiServer();
    server.embedWith((text) => [...fakeEmbedding(text), text.length]);
    const result = await modelFor('gemini-embedding-001').doEmbed(options());
    expect(result.embeddings).toEqual(texts.map((text) => [...fakeEmbedding(text), text.length]));
    // The fake counts a token per word: 6 + 4 + 1.
    expect(result.usage).toEqual({ inputTokens: 11 });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/models/gemini-embedding-001:batchEmbedContents');
    expect(request?.headers['x-goog-api-key']).toBe('g-test');
    expect(request?.headers['x-server-timeout']).toBe('5');
    expect(request?.body).toEqual({
      requests: texts.map((text) => ({
        model: 'models/gemini-embedding-001',
        content: { role: 'user', parts: [{ text }] },
      })),
    });
  });

  it('gets one vector per text from a gemini-embedding-2 model too', async () => {
    // Given bare strings, the SDK would fold them into one content for these models: one vector.
    await start();
    const result = await modelFor('gemini-embedding-2').doEmbed(options());
    expect(result.embeddings).toEqual(texts.map(fakeEmbedding));
  });

  it('counts no tokens when the answer has no usage metadata', async () => {
    await start({
      embeddings: (vectors) => ({ status: 200, body: { embeddings: vectors.map((values) => ({ values })) } }),
    });
    expect((await modelFor('gemini-embedding-001').doEmbed(options())).usage).toEqual({ inputTokens: 0 });
  });

  it('refuses an answer without a vector for every text, as a retryable server fault', async () => {
    await start({ embeddings: (vectors, ...rest) => wireEmbeddings.embeddings(vectors.slice(1), ...rest) });
    expect(await failureOf(modelFor('gemini-embedding-001').doEmbed(options()))).toMatchObject({
      kind: 'server',
      retryable: true,
    });
  });

  it('turns a 429 with retry-after into rate_limit and a 500 into server, one request each', async () => {
    await start();
    server.enqueue(
      { kind: 'error', status: 429, message: 'Resource has been exhausted', retryAfterSeconds: 7 },
      { kind: 'error', status: 500, message: 'boom' },
    );
    const model = modelFor('gemini-embedding-001');
    expect(await failureOf(model.doEmbed(options()))).toMatchObject({
      kind: 'rate_limit',
      status: 429,
      retryAfterMs: 7_000,
      retryable: true,
      model: 'google:gemini-embedding-001',
    });
    expect(await failureOf(model.doEmbed(options()))).toMatchObject({ kind: 'server', retryable: true });
    expect(server.requests).toHaveLength(2);
  });

  it('stops when its AbortSignal fires, leaving no listener on it, and times out a hung server', async () => {
    await start();
    server.enqueue({ kind: 'hang' }, { kind: 'hang' });
    const model = modelFor('gemini-embedding-001');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failureOf(model.doEmbed(options({ signal: controller.signal })))).toMatchObject({
      kind: 'aborted',
      retryable: false,
    });
    const signal = new AbortController().signal;
    expect(await failureOf(model.doEmbed(options({ signal, timeoutMs: 300 })))).toMatchObject({
      kind: 'timeout',
    });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('sends nothing for no texts, and refuses more than the 100 a batch may carry', async () => {
    await start();
    const model = modelFor('gemini-embedding-001');
    expect(await model.doEmbed(options({ values: [] }))).toEqual({
      embeddings: [],
      usage: { inputTokens: 0 },
    });
    const tooMany = Array.from({ length: 101 }, (_, index) => `text ${index}`);
    expect(await failureOf(model.doEmbed(options({ values: tooMany })))).toMatchObject({
      kind: 'bad_request',
    });
    expect(server.requests).toHaveLength(0);
  });
});
