import { loadConfig } from '@plainloop/config';
import { RunRequest, type RunState, runIdFor } from '@plainloop/contracts';
import { createModelCatalog } from '@plainloop/llm';
import { createRunQueue } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import { defineTool } from '@plainloop/tools';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bindModels } from './bind-models.ts';
import { defineAgent } from './define-agent.ts';
import { executeRun } from './execute-run.ts';
import { type ForkRequest, forkRun } from './fork-run.ts';
import { type RunEnvironment, runEnvironmentFromConfig } from './run-environment.ts';
import { submitRun } from './submit-run.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('forkRun', () => {
  let redis: TestRedis;
  let server: FakeProviderServer;
  let queue: Queue;
  let environment: RunEnvironment;
  /** Every run of a tool, so a test can prove a replayed step ran none. */
  let toolRuns: string[];
  let catalog: ReturnType<typeof createModelCatalog>;
  let agents: ReturnType<typeof agentsOf>;

  function agentsOf(limits: { maxIterations?: number } = {}) {
    const search = defineTool({
      name: 'search',
      description: 'Search the web',
      input: z.object({ query: z.string() }),
      run: ({ query }) => {
        toolRuns.push(`search:${query}`);
        return [`${query}: found it`];
      },
    });
    const summarize = defineTool({
      name: 'summarize',
      description: 'Summarize texts',
      input: z.object({ texts: z.array(z.string()) }),
      run: ({ texts }) => {
        toolRuns.push('summarize');
        return `${texts.length} texts`;
      },
    });
    const agent = defineAgent({
      name: 'research',
      instructions: 'Research the topic.',
      input: z.object({ topic: z.string() }),
      output: z.object({ summary: z.string() }),
      tools: [search, summarize],
      models: { plan: ['openai:gpt-4.1-mini'], execute: ['openai:gpt-4.1-mini'] },
      limits,
    });
    return new Map([[agent.name, bindModels(agent, catalog).bound]]);
  }

  beforeEach(async () => {
    redis = await useTestRedis();
    server = await startFakeOpenAIServer();
    catalog = createModelCatalog({ openai: { apiKey: 'test-key', baseUrl: server.baseUrl } });
    queue = createRunQueue(redis.connect('producer'), redis.keys);
    toolRuns = [];
    agents = agentsOf();
    environment = runEnvironmentFromConfig(loadConfig({ PLAINLOOP_RETRY_BASE_DELAY_MS: '1' }), {
      redis: redis.client,
      keys: redis.keys,
      logger,
    });
  });
  afterEach(async () => {
    await queue.close();
    await server.close();
    await redis.close();
  });

  const dependencies = () => ({ store: environment.store, queue, logger });

  async function execute(runId: string, request: RunRequest) {
    return executeRun({
      environment,
      agents,
      catalog,
      job: { runId, request },
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
  }

  /** A three-step run: search, summarize, then the final answer; each step one request to the server. */
  async function runSource(): Promise<RunState> {
    server.enqueue(
      { kind: 'completion', toolCalls: [{ name: 'search', arguments: { query: 'redis' } }] },
      { kind: 'completion', toolCalls: [{ name: 'summarize', arguments: { texts: ['redis: found it'] } }] },
      { kind: 'completion', text: JSON.stringify({ summary: 'the first answer' }) },
    );
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' } });
    const submitted = await submitRun(dependencies(), request, Date.now());
    const outcome = await execute(submitted.state.runId, request);
    expect(outcome).toMatchObject({ kind: 'finished', state: { status: 'succeeded', step: 3 } });
    return outcome.kind === 'finished' ? outcome.state : submitted.state;
  }

  async function fork(request: Omit<ForkRequest, 'tenantId'>) {
    return forkRun(dependencies(), { tenantId: 'default', ...request }, Date.now());
  }

  it('replays the recorded steps without a model call or a tool run, then goes on with another model', async () => {
    const source = await runSource();
    expect(server.requests).toHaveLength(3);
    expect(toolRuns).toEqual(['search:redis', 'summarize']);
    const sourceCalls = await environment.store.loadModelCalls('default', source.runId);

    const forked = await fork({
      sourceRunId: source.runId,
      fromStep: 2,
      models: { plan: ['openai:gpt-4.1'], execute: ['openai:gpt-4.1'] },
    });
    expect(forked.kind).toBe('created');
    if (forked.kind !== 'created') return;
    expect(forked.state).toMatchObject({ status: 'queued', step: 2, costUsd: 0, llmCalls: 0 });
    expect(forked.state.forkedFrom).toMatchObject({ runId: source.runId, step: 2 });
    const replayedCost = sourceCalls
      .filter((call) => call.step < 2)
      .reduce((sum, call) => sum + call.costUsd, 0);
    expect(forked.state.forkedFrom?.costUsd).toBeCloseTo(replayedCost, 12);
    expect(replayedCost).toBeGreaterThan(0);

    server.enqueue({ kind: 'completion', text: JSON.stringify({ summary: 'the second answer' }) });
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' } });
    const outcome = await execute(forked.state.runId, request);

    expect(outcome).toMatchObject({
      kind: 'finished',
      state: { status: 'succeeded', step: 3, llmCalls: 1, output: { summary: 'the second answer' } },
    });
    // Steps 1 and 2 cost the fork nothing: one request in all, to the model it asked for, and no tool ran.
    expect(server.requests).toHaveLength(4);
    expect(server.requests[3]?.body.model).toBe('gpt-4.1');
    expect(toolRuns).toEqual(['search:redis', 'summarize']);
    // The model saw the recorded steps: both tool calls and their results, as the source had them.
    const messages = JSON.stringify(server.requests[3]?.body.messages);
    expect(messages).toContain('redis: found it');
    expect(messages).toContain('1 texts');
    const forkCalls = await environment.store.loadModelCalls('default', forked.state.runId);
    expect(forkCalls.map((call) => [call.step, call.model])).toEqual([[2, 'openai:gpt-4.1']]);
    const finished = await environment.store.load('default', forked.state.runId);
    expect(finished?.costUsd).toBeCloseTo(forkCalls[0]?.costUsd ?? -1, 12);
  });

  it('forks from step 0 as a fresh run of the same input', async () => {
    const source = await runSource();
    const forked = await fork({ sourceRunId: source.runId, fromStep: 0 });
    expect(forked).toMatchObject({
      kind: 'created',
      state: { step: 0, forkedFrom: { step: 0, costUsd: 0 } },
    });
    expect(
      await environment.store.loadTurns('default', forked.kind === 'created' ? forked.state.runId : ''),
    ).toEqual([]);
  });

  it('refuses steps that were not recorded, the final answer, and runs of another tenant', async () => {
    const source = await runSource();
    expect(await fork({ sourceRunId: source.runId, fromStep: 4 })).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining('has 3 completed steps'),
    });
    expect(await fork({ sourceRunId: source.runId, fromStep: 3 })).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining('final answer'),
    });
    const elsewhere = await forkRun(
      dependencies(),
      { tenantId: 'other', sourceRunId: source.runId, fromStep: 1 },
      Date.now(),
    );
    expect(elsewhere).toEqual({ kind: 'not_found' });
  });

  it('makes one fork per idempotency key, and refuses the key for a different fork', async () => {
    const source = await runSource();
    const first = await fork({ sourceRunId: source.runId, fromStep: 1, idempotencyKey: 'try-gpt' });
    const again = await fork({ sourceRunId: source.runId, fromStep: 1, idempotencyKey: 'try-gpt' });
    const other = await fork({ sourceRunId: source.runId, fromStep: 2, idempotencyKey: 'try-gpt' });
    expect(first.kind).toBe('created');
    expect(again).toMatchObject({
      kind: 'existing',
      state: { runId: runIdFor({ tenantId: 'default', idempotencyKey: 'try-gpt' }) },
    });
    expect(other.kind).toBe('conflict');
    expect(await queue.getJobCounts('wait')).toMatchObject({ wait: 2 });
  });

  it('counts a fork’s iterations from where it starts: a run stopped by max_iterations goes on in a fork', async () => {
    agents = agentsOf({ maxIterations: 2 });
    server.enqueue(
      { kind: 'completion', toolCalls: [{ name: 'search', arguments: { query: 'redis' } }] },
      { kind: 'completion', toolCalls: [{ name: 'summarize', arguments: { texts: ['redis: found it'] } }] },
    );
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' } });
    const submitted = await submitRun(dependencies(), request, Date.now());
    const stopped = await execute(submitted.state.runId, request);
    expect(stopped).toMatchObject({ kind: 'finished', state: { status: 'max_iterations', step: 2 } });

    const forked = await fork({ sourceRunId: submitted.state.runId, fromStep: 2 });
    if (forked.kind !== 'created') throw new Error(`expected a fork, got ${forked.kind}`);
    server.enqueue({ kind: 'completion', text: JSON.stringify({ summary: 'done at last' }) });
    const outcome = await execute(forked.state.runId, request);
    expect(outcome).toMatchObject({ kind: 'finished', state: { status: 'succeeded', step: 3, llmCalls: 1 } });
  });

  it('forks a fork: its models and what its replayed steps cost carry over; earlier steps belong to the original', async () => {
    const source = await runSource();
    const first = await fork({
      sourceRunId: source.runId,
      fromStep: 1,
      models: { plan: ['openai:gpt-4.1'], execute: ['openai:gpt-4.1'] },
    });
    if (first.kind !== 'created') throw new Error(`expected a fork, got ${first.kind}`);
    server.enqueue(
      { kind: 'completion', toolCalls: [{ name: 'summarize', arguments: { texts: ['again'] } }] },
      { kind: 'completion', text: JSON.stringify({ summary: 'the fork’s answer' }) },
    );
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' } });
    await execute(first.state.runId, request);
    const firstCalls = await environment.store.loadModelCalls('default', first.state.runId);

    const second = await fork({ sourceRunId: first.state.runId, fromStep: 2 });
    if (second.kind !== 'created') throw new Error(`expected a fork, got ${second.kind}`);
    expect(second.state.models).toEqual({ plan: ['openai:gpt-4.1'], execute: ['openai:gpt-4.1'] });
    const firstStepCost = first.state.forkedFrom?.costUsd ?? -1;
    const ownStepCost = firstCalls.filter((call) => call.step === 1)[0]?.costUsd ?? -1;
    expect(second.state.forkedFrom?.costUsd).toBeCloseTo(firstStepCost + ownStepCost, 12);
    expect(await fork({ sourceRunId: first.state.runId, fromStep: 0 })).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining(`fork ${source.runId} itself`),
    });
  });

  it('ends a fork whose record was lost by name, without starting it afresh from its request', async () => {
    const source = await runSource();
    const forked = await fork({ sourceRunId: source.runId, fromStep: 2 });
    if (forked.kind !== 'created') throw new Error(`expected a fork, got ${forked.kind}`);
    const job = await queue.getJob(forked.state.runId);
    expect(job?.data.fork).toEqual({ sourceRunId: source.runId, fromStep: 2 });
    const keys = redis.keys.run('default', forked.state.runId);
    await redis.client.del(keys.state, keys.turns);

    const outcome = await executeRun({
      environment,
      agents,
      catalog,
      job: job?.data,
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    expect(outcome).toMatchObject({
      kind: 'finished',
      state: { status: 'failed', error: { code: 'fork_lost' } },
    });
    expect(server.requests).toHaveLength(3);
    expect(toolRuns).toEqual(['search:redis', 'summarize']);
  });

  it('fails a fork whose models this worker cannot call, by name, without calling any model', async () => {
    const source = await runSource();
    const forked = await fork({
      sourceRunId: source.runId,
      fromStep: 1,
      models: { plan: ['anthropic:claude-sonnet-4-5'], execute: ['anthropic:claude-sonnet-4-5'] },
    });
    if (forked.kind !== 'created') throw new Error(`expected a fork, got ${forked.kind}`);
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' } });
    const outcome = await execute(forked.state.runId, request);
    expect(outcome).toMatchObject({
      kind: 'finished',
      state: { status: 'failed', error: { code: 'model_unavailable' } },
    });
    expect(server.requests).toHaveLength(3);
  });
});
