import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { ThreadQueue, ThreadStore } from '@plainloop/memory';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  type FakeReply,
  type RecordedRequest,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exitOf, type Fleet, startFleet } from './test-fixtures/fleet-harness.ts';

const agentsPath = new URL('./test-fixtures/memory-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
const filler =
  'and then we talked about the harbour, the boats, the weather over the bay and the price of fish';
const thread = { tenantId: 'acme', threadId: 'harbour' };

type ChatMessage = { role: string; content: string };
const isSummaryRequest = (request: RecordedRequest) =>
  ((request.body.messages as ChatMessage[] | undefined)?.[0]?.content ?? '').startsWith(
    'You keep the memory',
  );
/** Embedding requests that archive folded exchanges (their texts start with "user: "). */
const isArchiveRequest = (request: RecordedRequest) =>
  request.path.endsWith('/embeddings') &&
  ([] as string[]).concat(request.body.input as string[]).some((text) => text.startsWith('user: '));

describe('thread memory across worker processes', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let fleet: Fleet;
  let archiveHangs = true;

  beforeEach(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
    model.respondWith((request): FakeReply => {
      if (isArchiveRequest(request) && archiveHangs) return { kind: 'hang' };
      if (request.path.endsWith('/embeddings')) return { kind: 'completion' };
      if (isSummaryRequest(request))
        return {
          kind: 'completion',
          text: JSON.stringify({ summary: 'we chatted about the harbour', facts: [] }),
        };
      return { kind: 'completion', text: `yes, ${filler}`, usage: { prompt: 300, completion: 30 } };
    });
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: {
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_EMBEDDING_MODEL: 'openai:text-embedding-3-small',
        PLAINLOOP_PRICES_FILE: new URL('./test-fixtures/memory-prices.json', import.meta.url).pathname,
      },
    });
  });
  afterEach(async () => {
    await fleet.stop();
    await queue.close();
    await model.close();
    await redis.close();
  });

  async function submit(turn: number): Promise<string> {
    const request = RunRequest.parse({ agent: 'companion', input: `turn ${turn}: ${filler}`, ...thread });
    const threads = new ThreadQueue(producer, redis.keys, 3_600);
    const dependencies = { store, queue, events: new RunEventStream(producer, redis.keys), logger, threads };
    return (await submitRun(dependencies, request, Date.now())).state.runId;
  }
  const finished = (runId: string) =>
    waitFor(`run ${runId}`, async () => {
      const state = await store.load('acme', runId);
      return state?.status === 'succeeded' ? state : undefined;
    });

  it('resumes a summary step whose worker was SIGKILLed after the summary was saved, without a second summary', async () => {
    const first = fleet.startWorker('worker-1');
    await waitFor('the worker', async () =>
      (await producer.hexists(redis.keys.agents, 'companion')) ? true : undefined,
    );
    // Chat until a run summarizes; its summary is saved, then archiving it hangs: the worker dies there.
    let turn = 1;
    let summarizing: string | undefined;
    while (summarizing === undefined) {
      const runId = await submit(turn);
      turn += 1;
      const outcome = await waitFor(`run ${runId} to finish or to summarize`, async () => {
        if (model.requests.some(isArchiveRequest)) return 'summarizing';
        const state = await store.load('acme', runId);
        return state?.status === 'succeeded' ? 'done' : undefined;
      });
      if (outcome === 'summarizing') summarizing = runId;
    }
    const saved = await store.load('acme', summarizing);
    expect(saved?.pendingSummary?.summary).toBe('we chatted about the harbour');
    first.child.kill('SIGKILL');
    await exitOf(first);

    archiveHangs = false;
    fleet.startWorker('worker-2');
    const resumed: RunState = await finished(summarizing);
    expect(model.requests.filter(isSummaryRequest)).toHaveLength(1);
    expect(resumed).toMatchObject({ llmCalls: 2, attempt: 2 });
    expect(resumed.pendingSummary).toBeUndefined();
    const ledger = await store.loadModelCalls('acme', summarizing);
    expect(ledger).toHaveLength(2);
    expect(resumed.costUsd).toBeCloseTo(
      ledger.reduce((total, call) => total + call.costUsd, 0),
      12,
    );
    const memory = await new ThreadStore(producer, redis.keys, {
      retentionSeconds: 3_600,
      keepTurns: 0,
    }).load(thread);
    expect(memory.summary).toBe('we chatted about the harbour');
    // The folded exchanges reached semantic memory, for the agent to recall later.
    expect(await producer.hlen(redis.keys.vectors('acme', 'thread.harbour'))).toBeGreaterThan(0);
    // The thread goes on after the crash: the next run answers with the summary in its context.
    const next = await finished(await submit(turn));
    expect(next.status).toBe('succeeded');
    // ...and with notes recalled from semantic memory in front of its input.
    const lastChat = model.requests.filter((request) => request.path.endsWith('/chat/completions')).at(-1);
    const userMessages = ((lastChat?.body.messages ?? []) as ChatMessage[]).filter(
      (message) => message.role === 'user',
    );
    expect(userMessages.at(-1)?.content).toMatch(/^Notes recalled from earlier conversations/);
  });
});
