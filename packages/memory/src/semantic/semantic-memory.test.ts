import { createModelCatalog, hashedEmbedding } from '@plainloop/llm';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SemanticMemory } from './semantic-memory.ts';
import { RedisVectorStore } from './vector-store.ts';

const vocabulary = [
  'invoice',
  'harbour',
  'meeting',
  'garden',
  'printer',
  'holiday',
  'recipe',
  'contract',
  'kitchen',
  'train',
  'concert',
  'dentist',
  'laptop',
  'budget',
  'football',
  'museum',
  'passport',
  'insurance',
  'window',
  'coffee',
  'birthday',
  'mortgage',
  'library',
  'battery',
  'umbrella',
  'ticket',
  'salary',
  'painting',
  'hospital',
  'airport',
];

/** A thousand notes that share words with each other, and none with the query. */
function distractors(count: number): string[] {
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  return Array.from({ length: count }, (_, index) => {
    const words = Array.from({ length: 6 }, () => vocabulary[next() % vocabulary.length]);
    return `note ${index}: the ${words.join(' and the ')}`;
  });
}

describe('semantic memory', () => {
  let redis: TestRedis;
  let server: FakeProviderServer;

  beforeEach(async () => {
    redis = await useTestRedis();
    server = await startFakeOpenAIServer();
    server.embedWith((text) => hashedEmbedding(text, 1_024));
  });
  afterEach(async () => {
    await server.close();
    await redis.close();
  });

  it('finds the right item among a thousand, through the OpenAI SDK, per tenant and namespace', async () => {
    const catalog = createModelCatalog({ openai: { apiKey: 'sk-test', baseUrl: server.baseUrl } });
    const resolved = catalog.resolveEmbedding('openai:text-embedding-3-small');
    if (!resolved.ok) throw new Error(resolved.reason);
    const memory = new SemanticMemory({
      model: resolved.model,
      store: new RedisVectorStore(redis.client, redis.keys),
      timeoutMs: 5_000,
    });
    const scope = { tenantId: 'acme', namespace: 'assistant' };
    const signal = new AbortController().signal;
    const items = distractors(1_000).map((text, index) => ({ id: `note-${index}`, text }));
    // Near misses share some of the query's words; the right item shares the most.
    const nearMisses = [
      'my blue car is parked at the station',
      'the bicycle shop did open near the museum',
      'where the harbour lock is, nobody knows',
      'my laptop battery is blue and old',
    ];
    items.push(...nearMisses.map((text, index) => ({ id: `near-${index}`, text })));
    items.splice(617, 0, {
      id: 'bicycle',
      text: 'my blue bicycle is locked behind the old library on Elm street',
    });
    await memory.remember(scope, items, signal);

    const found = await memory.recall(scope, 'where did I lock my blue bicycle?', 3, signal);
    expect(found[0]).toMatchObject({ id: 'bicycle' });
    expect(found[0]?.score).toBeGreaterThan(found[1]?.score ?? 1);
    expect(found).toHaveLength(3);
    // Another tenant, or another namespace, sees none of it.
    expect(
      await memory.recall({ tenantId: 'globex', namespace: 'assistant' }, 'blue bicycle', 3, signal),
    ).toEqual([]);
    expect(await memory.recall({ tenantId: 'acme', namespace: 'other' }, 'blue bicycle', 3, signal)).toEqual(
      [],
    );
    const embedRequests = server.requests.filter((request) => request.path.endsWith('/embeddings'));
    expect(embedRequests.length).toBe(4);
    expect(embedRequests[0]?.body.model).toBe('text-embedding-3-small');
  });
});
