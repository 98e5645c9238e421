import { loadConfig } from '@plainloop/config';
import type { Message, RunJobData, RunState } from '@plainloop/contracts';
import { RunRequest } from '@plainloop/contracts';
import { createModelCatalog, type ScriptContext, type ScriptedReply, scriptedModel } from '@plainloop/llm';
import { messageTokens } from '@plainloop/memory';
import { createRunQueue } from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { abandonRun } from '../abandon-run.ts';
import { type BoundAgent, bindModels } from '../bind-models.ts';
import { cancelRun } from '../cancel-run.ts';
import { defineAgent } from '../define-agent.ts';
import { executeRun } from '../execute-run.ts';
import { type RunEnvironment, runEnvironmentFromConfig } from '../run-environment.ts';
import { newRunState, runIdFor } from '../run-identity.ts';

const logger = createLogger({ service: 'test', level: 'silent' });
const noStop = new AbortController().signal;
const filler =
  'and then we talked about the harbour, the boats, the weather over the bay and the price of fish';

/** A chat model for long conversations: it summarizes when asked to, remembers a colour, and recalls it. */
function chatModel(observed: { maxPromptTokens: number; summaries: number; answers: number }) {
  const isSummaryRequest = (messages: readonly Message[]) =>
    messages[0]?.content.startsWith('You keep the memory') ?? false;
  const script = ({ messages }: ScriptContext): ScriptedReply => {
    if (isSummaryRequest(messages)) {
      observed.summaries += 1;
      const facts = observed.summaries === 1 ? [{ key: 'boat', value: 'the Marlin' }] : [];
      return { text: JSON.stringify({ summary: `summary number ${observed.summaries} of the chat`, facts }) };
    }
    observed.answers += 1;
    const promptTokens = messages.reduce((total, message) => total + messageTokens(message), 0);
    observed.maxPromptTokens = Math.max(observed.maxPromptTokens, promptTokens);
    const input = messages.findLast((message) => message.role === 'user')?.content ?? '';
    const afterInput = messages.slice(messages.findLastIndex((message) => message.role === 'user'));
    if (afterInput.some((message) => message.role === 'tool')) return { text: 'noted' };
    if (input.includes('my favourite colour is teal'))
      return {
        toolCalls: [{ name: 'remember_fact', arguments: { key: 'favourite_colour', value: 'teal' } }],
      };
    if (input.includes('what is my favourite colour')) {
      const known = messages.some(
        (message) => message.role === 'system' && message.content.includes('favourite_colour: teal'),
      );
      return { text: known ? 'teal' : 'I do not know' };
    }
    return { text: `yes, ${filler}` };
  };
  return scriptedModel({ name: 'chat', pricedAs: 'openai:gpt-4.1-mini', script });
}

describe('a conversation thread', () => {
  let redis: TestRedis;
  let environment: RunEnvironment;

  beforeEach(async () => {
    redis = await useTestRedis();
    environment = runEnvironmentFromConfig(loadConfig({ PLAINLOOP_MODEL_TIMEOUT_MS: '5000' }), {
      redis: redis.client,
      keys: redis.keys,
      logger,
    });
  });
  afterEach(() => redis.close());

  function chatAgents(observed: Parameters<typeof chatModel>[0]): Map<string, BoundAgent> {
    const model = chatModel(observed);
    const agent = defineAgent({
      name: 'chat',
      instructions: 'You are a friendly companion who chats about the harbour.',
      input: z.string(),
      models: { plan: [model], execute: [model] },
      memory: { contextTokens: 2_500, outputReserveTokens: 500 },
    });
    return new Map([['chat', bindModels(agent, createModelCatalog({ openai: {} })).bound]]);
  }

  function turnJob(turn: number, text: string): RunJobData {
    const request = RunRequest.parse({
      agent: 'chat',
      input: `turn ${turn}: ${text}`,
      threadId: 'harbour-chat',
      tenantId: 'acme',
    });
    return { runId: runIdFor(request), request };
  }

  const take = (agents: Map<string, BoundAgent>, job: RunJobData) =>
    executeRun({ environment, agents, job, signal: noStop, shouldRelease: () => false, lastAttempt: true });

  it('keeps 200 turns within the context budget and still knows at turn 200 a fact given at turn 3', async () => {
    const observed = { maxPromptTokens: 0, summaries: 0, answers: 0 };
    const agents = chatAgents(observed);
    let last: RunState | undefined;
    const summarizedRuns: RunState[] = [];
    for (let turn = 1; turn <= 200; turn += 1) {
      const text =
        turn === 3
          ? 'by the way, my favourite colour is teal'
          : turn === 200
            ? 'what is my favourite colour?'
            : filler;
      const job = turnJob(turn, text);
      const outcome = await take(agents, job);
      expect(outcome.kind).toBe('finished');
      last = await environment.store.load('acme', job.runId);
      expect(last?.status).toBe('succeeded');
      const events = await new RunEventStream(redis.client, redis.keys).readRun('acme', job.runId);
      if (events.some(({ event }) => event.type === 'memory.summarized') && last) summarizedRuns.push(last);
    }
    expect(last?.output).toBe('teal');
    // Facts from the model (remember_fact) and from the summarizer are both still there at the end.
    const memory = await environment.threads.load({ tenantId: 'acme', threadId: 'harbour-chat' });
    expect(memory.facts).toEqual([
      { key: 'favourite_colour', value: 'teal' },
      { key: 'boat', value: 'the Marlin' },
    ]);
    // 2,500 tokens of context, 500 kept for the answer: no prompt ever went over 2,000.
    expect(observed.maxPromptTokens).toBeLessThanOrEqual(2_000);
    expect(observed.maxPromptTokens).toBeGreaterThan(1_000);
    expect(observed.summaries).toBeGreaterThan(5);
    expect(summarizedRuns).toHaveLength(observed.summaries);
    // A summary is a model call of the run that made it: in its ledger and in its cost.
    const [summarized] = summarizedRuns;
    const ledger = await environment.store.loadModelCalls('acme', summarized?.runId ?? '');
    expect(ledger).toHaveLength(2);
    expect(summarized?.llmCalls).toBe(2);
    expect(summarized?.costUsd).toBeCloseTo(
      ledger.reduce((total, call) => total + call.costUsd, 0),
      12,
    );
    expect(ledger.every((call) => call.costUsd > 0)).toBe(true);
  });

  it('applies a summary checkpointed before a crash on resume, without asking for another', async () => {
    const observed = { maxPromptTokens: 0, summaries: 0, answers: 0 };
    const agents = chatAgents(observed);
    let turn = 1;
    // Talk until the next run has to summarize: the thread's recent turns outgrow their share.
    for (; observed.summaries === 0; turn += 1) await take(agents, turnJob(turn, filler));
    const summariesBefore = observed.summaries;
    // The process dies between the summary's checkpoint and its application to the thread.
    const applySummary = environment.threads.applySummary.bind(environment.threads);
    let crashed = false;
    environment.threads.applySummary = async (...parameters) => {
      if (!crashed) {
        crashed = true;
        throw new Error('the worker died here');
      }
      return applySummary(...parameters);
    };
    for (; observed.summaries === summariesBefore; turn += 1) {
      const job = turnJob(turn, filler);
      const outcome = await take(agents, job).catch((error: Error) => error);
      if (!(outcome instanceof Error)) continue;
      const saved = await environment.store.load('acme', job.runId);
      expect(saved?.pendingSummary).toBeDefined();
      const resumed = await take(agents, job);
      expect(resumed.kind).toBe('finished');
      const state = await environment.store.load('acme', job.runId);
      expect(state).toMatchObject({ status: 'succeeded', llmCalls: 2 });
      expect(state?.pendingSummary).toBeUndefined();
      expect(observed.summaries).toBe(summariesBefore + 1);
      const memory = await environment.threads.load({ tenantId: 'acme', threadId: 'harbour-chat' });
      expect(memory.summary).toBe(`summary number ${summariesBefore + 1} of the chat`);
      return;
    }
    throw new Error('no run summarized');
  });

  it('does not let a run that can never be taken hold its thread up', async () => {
    const agents = chatAgents({ maxPromptTokens: 0, summaries: 0, answers: 0 });
    // A producer died between its two writes: the run is queued, first in its thread, with no job.
    const orphan = turnJob(1, 'hello?');
    await environment.store.create(newRunState(orphan.runId, orphan.request, Date.now()));
    await environment.threadQueue.enter({ tenantId: 'acme', threadId: 'harbour-chat' }, orphan.runId);
    const next = turnJob(2, filler);
    expect((await take(agents, next)).kind).toBe('waiting');
    environment.jobStateOf = async (runId) => (runId === orphan.runId ? 'unknown' : 'active');
    expect((await take(agents, next)).kind).toBe('finished');
  });

  it('gives the thread the turns of a run that ended by abandon, and nothing of one cancelled while queued', async () => {
    const observed = { maxPromptTokens: 0, summaries: 0, answers: 0 };
    const agents = chatAgents(observed);
    const thread = { tenantId: 'acme', threadId: 'harbour-chat' };
    const first = turnJob(1, 'by the way, my favourite colour is teal');
    // The first run does its first step (the model asks to remember), then its worker is released.
    let steps = 0;
    const released = await executeRun({
      environment,
      agents,
      job: first,
      signal: noStop,
      shouldRelease: () => {
        steps += 1;
        return steps > 2;
      },
      lastAttempt: true,
    });
    expect(released.kind).toBe('released');
    // A second run waits behind it, and is cancelled while it waits: it said nothing to the thread.
    const second = turnJob(2, filler);
    await environment.store.create(newRunState(second.runId, second.request, Date.now()));
    await environment.threadQueue.enter(thread, second.runId);
    const queue = createRunQueue(redis.client, redis.keys);
    await cancelRun(
      { environment, queue, redis: redis.client, keys: redis.keys },
      'acme',
      second.runId,
      'changed my mind',
    );
    await queue.close();
    // BullMQ gives the first run up: it ends failed, and the thread gets every turn it had.
    await abandonRun(environment, 'acme', first.runId, {
      code: 'worker_lost',
      message: 'gone',
      retryable: false,
    });
    const memory = await environment.threads.load(thread);
    expect(memory.recent.map((message) => message.role)).toEqual(['user', 'assistant', 'tool']);
    expect(memory.recent[0]?.content).toContain('favourite colour is teal');
    expect(memory.recent.some((message) => message.content.includes('changed my mind'))).toBe(false);
    expect(memory.recent.some((message) => message.content.includes('turn 2'))).toBe(false);
  });

  it('applies a summary even when semantic memory cannot take its exchanges', async () => {
    const observed = { maxPromptTokens: 0, summaries: 0, answers: 0 };
    const model = chatModel(observed);
    const agent = defineAgent({
      name: 'chat',
      instructions: 'You are a friendly companion who chats about the harbour.',
      input: z.string(),
      models: { plan: [model], execute: [model] },
      memory: { contextTokens: 2_500, outputReserveTokens: 500, recall: {} },
    });
    const agents = new Map([['chat', bindModels(agent, createModelCatalog({ openai: {} })).bound]]);
    const down = {
      provider: 'openai',
      modelId: 'text-embedding-3-small',
      doEmbed: async () => {
        throw new Error('embeddings are down');
      },
    };
    environment = runEnvironmentFromConfig(
      loadConfig({ PLAINLOOP_MODEL_TIMEOUT_MS: '5000' }),
      { redis: redis.client, keys: redis.keys, logger },
      undefined,
      down,
    );
    let turn = 1;
    for (; observed.summaries === 0; turn += 1) {
      const job = turnJob(turn, filler);
      expect((await take(agents, job)).kind).toBe('finished');
      expect((await environment.store.load('acme', job.runId))?.status).toBe('succeeded');
    }
    const memory = await environment.threads.load({ tenantId: 'acme', threadId: 'harbour-chat' });
    expect(memory.summary).toBe('summary number 1 of the chat');
  });
});
