import type { EmbedOptions } from '@plainloop/contracts';
import {
  type FakeEmbeddingProtocol,
  type FakeProviderServer,
  fakeEmbedding,
  fakeEmbeddingDimensions,
  openaiProtocol,
  startFakeOpenAIServer,
  startFakeProviderServer,
} from '@plainloop/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { createOpenAIClient } from './openai-chat-model.ts';
import { OpenAIEmbeddingModel } from './openai-embedding-model.ts';

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

const wireEmbeddings = openaiProtocol.embedding as FakeEmbeddingProtocol;

describe('OpenAIEmbeddingModel on the real SDK', () => {
  let server: FakeProviderServer;
  let model: OpenAIEmbeddingModel;
  async function start(embedding: Partial<FakeEmbeddingProtocol> = {}) {
    server = await startFakeProviderServer({
      ...openaiProtocol,
      embedding: { ...wireEmbeddings, ...embedding },
    });
    model = new OpenAIEmbeddingModel(
      'text-embedding-3-small',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: server.baseUrl }),
    );
  }
  afterEach(() => server.close());

  it('embeds several texts in one request, decoding the base64 float32 the SDK asks for', async () => {
    server = await startFakeOpenAIServer();
    model = new OpenAIEmbeddingModel(
      'text-embedding-3-small',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: server.baseUrl }),
    );
    const result = await model.doEmbed(options());
    // base64 carries float32, so the numbers come back rounded to float32, and only that.
    expect(result.embeddings).toEqual(texts.map((text) => fakeEmbedding(text).map(Math.fround)));
    expect(result.embeddings.every((vector) => vector.length === fakeEmbeddingDimensions)).toBe(true);
    // The fake counts a token per word: 6 + 4 + 1.
    expect(result.usage).toEqual({ inputTokens: 11 });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/embeddings');
    expect(request?.headers.authorization).toBe('Bearer sk-test');
    expect(request?.body).toEqual({
      model: 'text-embedding-3-small',
      input: texts,
      encoding_format: 'base64',
    });
  });

  it('returns the vectors the server computes, whatever their size', async () => {
    await start();
    server.embedWith((text) => Array.from({ length: 1536 }, (_, slot) => (text.length + slot) / 4));
    const result = await model.doEmbed(options({ values: ['ab', 'abc'] }));
    expect(result.embeddings.map((vector) => vector.length)).toEqual([1536, 1536]);
    expect(result.embeddings[1]?.slice(0, 2)).toEqual([0.75, 1]);
  });

  it('keeps the float arrays of a compatible server that ignores encoding_format', async () => {
    await start({
      embeddings: (vectors, values, request, sequence) =>
        wireEmbeddings.embeddings(
          vectors,
          values,
          { ...request, body: { ...request.body, encoding_format: 'float' } },
          sequence,
        ),
    });
    const result = await model.doEmbed(options());
    expect(result.embeddings).toEqual(texts.map(fakeEmbedding));
  });

  it('puts each vector at the index the response gives it, not at its place in the list', async () => {
    await start({
      embeddings: (...answer) => {
        const wire = wireEmbeddings.embeddings(...answer);
        const body = wire.body as { data: unknown[] };
        return { ...wire, body: { ...body, data: [...body.data].reverse() } };
      },
    });
    const result = await model.doEmbed(options());
    expect(result.embeddings).toEqual(texts.map((text) => fakeEmbedding(text).map(Math.fround)));
  });

  it('refuses an answer without a vector for every text, as a retryable server fault', async () => {
    await start({
      embeddings: (vectors, ...rest) => wireEmbeddings.embeddings(vectors.slice(1), ...rest),
    });
    expect(await failureOf(model.doEmbed(options()))).toMatchObject({ kind: 'server', retryable: true });
  });

  it('turns a 429 with retry-after into rate_limit and a 500 into server, one request each', async () => {
    await start();
    server.enqueue(
      { kind: 'error', status: 429, message: 'Rate limit reached', retryAfterSeconds: 7 },
      { kind: 'error', status: 500, message: 'boom' },
    );
    expect(await failureOf(model.doEmbed(options()))).toMatchObject({
      kind: 'rate_limit',
      status: 429,
      retryAfterMs: 7_000,
      retryable: true,
      requestId: 'req_error',
      model: 'openai:text-embedding-3-small',
    });
    expect(await failureOf(model.doEmbed(options()))).toMatchObject({ kind: 'server', retryable: true });
    expect(server.requests).toHaveLength(2);
  });

  it('stops when its AbortSignal fires, and gives up on a hung server at the timeout', async () => {
    await start();
    server.enqueue({ kind: 'hang' }, { kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failureOf(model.doEmbed(options({ signal: controller.signal })))).toMatchObject({
      kind: 'aborted',
      retryable: false,
    });
    expect(await failureOf(model.doEmbed(options({ timeoutMs: 300 })))).toMatchObject({ kind: 'timeout' });
  });

  it('sends nothing for no texts, and refuses more than one request may carry', async () => {
    await start();
    expect(await model.doEmbed(options({ values: [] }))).toEqual({
      embeddings: [],
      usage: { inputTokens: 0 },
    });
    const tooMany = Array.from({ length: model.maxValuesPerCall + 1 }, (_, index) => `text ${index}`);
    expect(await failureOf(model.doEmbed(options({ values: tooMany })))).toMatchObject({
      kind: 'bad_request',
    });
    expect(server.requests).toHaveLength(0);
  });
});
