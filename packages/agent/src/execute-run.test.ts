import { loadConfig } from '@plainloop/config';
import type {
  GenerateResult,
  LanguageModel,
  RunEvent,
  RunJobData,
  RunRequestInput,
} from '@plainloop/contracts';
import { RunRequest } from '@plainloop/contracts';
import {
  createModelCatalog,
  LanguageModelError,
  type ScriptContext,
  type ScriptedReply,
  scriptedModel,
} from '@plainloop/llm';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { defineTool, ToolError } from '@plainloop/tools';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type BoundAgent, bindModels } from './bind-models.ts';
import { type Agent, defineAgent } from './define-agent.ts';
import { executeRun } from './execute-run.ts';
import { type RunEnvironment, runEnvironmentFromConfig } from './run-environment.ts';
import { runIdFor } from './run-identity.ts';

const searchDefinition = {
  name: 'search',
  description: 'Search the web',
  input: z.object({ query: z.string().min(1) }),
  run: ({ query }: { query: string }) => [`${query}: result one`, `${query}: result two`],
};
const search = defineTool(searchDefinition);
const summarize = defineTool({
  name: 'summarize',
  description: 'Summarize texts',
  input: z.object({ texts: z.array(z.string()) }),
  run: ({ texts }) => {
    if (texts.length === 0) throw new ToolError({ code: 'nothing_to_summarize', message: 'no texts given' });
    return `${texts.length} texts about ${texts[0]?.split(':')[0]}`;
  },
});

/** A scripted model that counts its calls, so a test can prove a call was not made twice. */
function countingModel(script: (context: ScriptContext) => ScriptedReply) {
  const counter = { calls: 0 };
  const model = scriptedModel({
    name: 'test',
    pricedAs: 'openai:gpt-4.1-mini',
    script: (context) => {
      counter.calls += 1;
      return script(context);
    },
  });
  return { model, counter };
}

const researchScript = ({ turn, input, toolResults }: ScriptContext): ScriptedReply => {
  if (turn === 0)
    return { toolCalls: [{ name: 'search', arguments: { query: (input as { topic: string }).topic } }] };
  if (turn === 1)
    return { toolCalls: [{ name: 'summarize', arguments: { texts: toolResults.get('search') } }] };
  return { text: JSON.stringify({ summary: toolResults.get('summarize') }) };
};

function researchAgent(model: LanguageModel, limits = {}): Agent {
  return defineAgent({
    name: 'research',
    instructions: 'Research the topic.',
    input: z.object({ topic: z.string() }),
    output: z.object({ summary: z.string() }),
    tools: [search, summarize],
    models: { plan: [model], execute: [model] },
    limits,
  });
}

const logger = createLogger({ service: 'test', level: 'silent' });
/** Production settings, but retries that do not make a test wait. */
const testEnvironment = {
  PLAINLOOP_RETRY_BASE_DELAY_MS: '1',
  PLAINLOOP_RETRY_MAX_DELAY_MS: '5',
  PLAINLOOP_MAX_INLINE_WAIT_MS: '100',
  PLAINLOOP_BREAKER_COOLDOWN_MS: '60000',
  PLAINLOOP_MODEL_TIMEOUT_MS: '5000',
};

describe('executeRun', () => {
  let redis: TestRedis;
  let environment: RunEnvironment;
  let events: RunEventStream;
  const noStop = new AbortController().signal;

  beforeEach(async () => {
    redis = await useTestRedis();
    events = new RunEventStream(redis.client, redis.keys);
    environment = runEnvironmentFromConfig(loadConfig(testEnvironment), {
      redis: redis.client,
      keys: redis.keys,
      logger,
    });
  });
  afterEach(() => redis.close());

  function job(request: RunRequestInput): RunJobData {
    const parsed = RunRequest.parse(request);
    return { runId: runIdFor(parsed), request: parsed };
  }

  function agentsOf(...agents: Agent[]): Map<string, BoundAgent> {
    const catalog = createModelCatalog({ openai: {} });
    return new Map(agents.map((agent) => [agent.name, bindModels(agent, catalog).bound]));
  }

  async function eventsOf(runId: string): Promise<RunEvent[]> {
    return (await events.readRun('default', runId)).map((entry) => entry.event);
  }

  const run = (agents: Map<string, BoundAgent>, runJob: RunJobData, shouldRelease = () => false) =>
    executeRun({ environment, agents, job: runJob, signal: noStop, shouldRelease, lastAttempt: true });

  it('runs a multi-step run to a validated output, checkpointing every step', async () => {
    const { model, counter } = countingModel(researchScript);
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    const outcome = await run(agentsOf(researchAgent(model)), runJob);

    expect(outcome.kind).toBe('finished');
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({
      status: 'succeeded',
      output: { summary: '2 texts about redis' },
      step: 3,
      llmCalls: 3,
      toolCalls: 2,
      attempt: 1,
      pending: null,
    });
    expect(counter.calls).toBe(3);
    expect(state?.costUsd).toBeGreaterThan(0);
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns.map((turn) => turn.role)).toEqual(['assistant', 'tool', 'assistant', 'tool', 'assistant']);
    const calls = await environment.store.loadModelCalls('default', runJob.runId);
    expect(calls.map((call) => call.step)).toEqual([0, 1, 2]);
    expect(calls.reduce((sum, call) => sum + call.costUsd, 0)).toBeCloseTo(state?.costUsd ?? -1, 12);
    expect((await eventsOf(runJob.runId)).map((event) => event.type)).toEqual([
      'run.started',
      'step.started',
      'llm.called',
      'tool.called',
      'step.started',
      'llm.called',
      'tool.called',
      'step.started',
      'llm.called',
      'run.finished',
    ]);
  });

  it('feeds invalid tool arguments back to the model as a structured error, and plans again', async () => {
    const { model } = countingModel(({ turn, messages }) => {
      if (turn === 0) return { toolCalls: [{ name: 'search', arguments: { query: 42 } }] };
      if (turn === 1) {
        const error = messages.at(-1);
        return { toolCalls: [{ name: 'search', arguments: { query: `fixed after ${error?.content}` } }] };
      }
      return { text: JSON.stringify({ summary: 'done' }) };
    });
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(model)), runJob);

    const state = await environment.store.load('default', runJob.runId);
    expect(state?.status).toBe('succeeded');
    const turns = await environment.store.loadTurns('default', runJob.runId);
    const errorTurn = turns[1];
    expect(errorTurn).toMatchObject({ role: 'tool', toolName: 'search', isError: true });
    expect(JSON.parse(errorTurn?.role === 'tool' ? errorTurn.content : '{}')).toEqual({
      error: { code: 'invalid_arguments', message: expect.stringContaining('query: '), retryable: false },
    });
    const recorded = await eventsOf(runJob.runId);
    expect(recorded.find((event) => event.type === 'tool.failed')).toMatchObject({
      error: { code: 'invalid_arguments' },
    });
    const tiers = recorded.flatMap((event) => (event.type === 'step.started' ? [event.tier] : []));
    expect(tiers).toEqual(['plan', 'plan', 'execute']);
  });

  it('turns a tool that throws into {code, message, retryable} for the model, and goes on', async () => {
    const { model } = countingModel(({ turn }) =>
      turn === 0
        ? { toolCalls: [{ name: 'summarize', arguments: { texts: [] } }] }
        : { text: '{"summary":"none"}' },
    );
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(model)), runJob);
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns[1]).toMatchObject({
      isError: true,
      content: JSON.stringify({
        error: { code: 'nothing_to_summarize', message: 'no texts given', retryable: false },
      }),
    });
    expect((await environment.store.load('default', runJob.runId))?.status).toBe('succeeded');
  });

  it('disables a tool that fails three times in a row for the rest of the run, and tells the model', async () => {
    let runs = 0;
    const broken = defineTool({
      name: 'search',
      description: 'Always down',
      input: z.object({ query: z.string() }),
      run: () => {
        runs += 1;
        throw new Error('search backend is down');
      },
    });
    const seen: Array<{ notes: string[] }> = [];
    const model = scriptedModel({
      name: 'stubborn',
      script: ({ turn, messages }) => {
        seen.push({
          notes: messages.filter((message) => message.role === 'system').map((message) => message.content),
        });
        return turn < 4
          ? { toolCalls: [{ name: 'search', arguments: { query: `try ${turn}` } }] }
          : { text: 'gave up' };
      },
    });
    const offered: string[][] = [];
    const recording: LanguageModel = {
      provider: model.provider,
      modelId: model.modelId,
      doGenerate: (options) => {
        offered.push(options.tools.map((tool) => tool.name));
        return model.doGenerate(options);
      },
    };
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(
      agentsOf(
        defineAgent({
          name: 'research',
          instructions: 'Research.',
          input: z.object({ topic: z.string() }),
          tools: [broken],
          models: { plan: [recording], execute: [recording] },
        }),
      ),
      runJob,
    );
    expect(runs).toBe(3);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({
      status: 'succeeded',
      disabledTools: { search: { reason: expect.stringContaining('3 times in a row') } },
    });
    expect(offered[3]).toEqual([]);
    expect(seen[3]?.notes.join(' ')).toContain('disabled for the rest of this run');
    const turns = await environment.store.loadTurns('default', runJob.runId);
    const fourthResult = turns.filter((turn) => turn.role === 'tool')[3];
    expect(fourthResult?.role === 'tool' && JSON.parse(fourthResult.content)).toMatchObject({
      error: { code: 'tool_disabled' },
    });
    expect(await eventsOf(runJob.runId)).toContainEqual(
      expect.objectContaining({ type: 'tool.disabled', tool: 'search', failures: 3 }),
    );
  });

  it('asks the model to repair a final answer that does not fit the output schema', async () => {
    const { model } = countingModel(({ turn }) =>
      turn === 0 ? { text: 'here you go: 42' } : { text: '{"summary":"fixed"}' },
    );
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(model)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'succeeded', output: { summary: 'fixed' }, step: 2 });
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns[1]).toMatchObject({ role: 'user', content: expect.stringContaining('not JSON') });
  });

  it('stops sending a final answer back for repair after the bound, and fails it by name', async () => {
    const { model, counter } = countingModel(() => ({ text: 'never JSON' }));
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(model)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'failed', outputRepairs: 2, error: { code: 'invalid_output' } });
    expect(counter.calls).toBe(3); // the answer, then two repairs
  });

  it('ends a run that never answers with max_iterations, by name', async () => {
    const { model, counter } = countingModel(() => ({
      toolCalls: [{ name: 'search', arguments: { query: 'again' } }],
    }));
    const runJob = job({ agent: 'research', input: { topic: 'redis' }, limits: { maxIterations: 3 } });
    await run(agentsOf(researchAgent(model, { maxIterations: 5 })), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'max_iterations', step: 3, error: { code: 'max_iterations' } });
    expect(counter.calls).toBe(3);
    expect((await eventsOf(runJob.runId)).at(-1)).toMatchObject({
      type: 'run.finished',
      status: 'max_iterations',
    });
  });

  it('flags the cost of a model nobody has a price for, instead of counting it as free', async () => {
    const unpriced = scriptedModel({
      name: 'mystery',
      script: () => ({ text: '{"summary":"x"}' }),
      pricedAs: 'openai:gpt-9-ultra',
    });
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(unpriced)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'succeeded', costUsd: 0, unpricedCalls: 1 });
    expect(await eventsOf(runJob.runId)).toContainEqual(
      expect.objectContaining({ type: 'llm.called', costKnown: false, costUsd: 0 }),
    );
    const [call] = await environment.store.loadModelCalls('default', runJob.runId);
    expect(call).toMatchObject({ costKnown: false, pricedAs: 'openai:gpt-9-ultra' });
  });

  it('refuses a call whose cost cannot be checked against the run budget (no known price), before it is made', async () => {
    const unpriced = scriptedModel({
      name: 'mystery',
      script: () => ({ toolCalls: [{ name: 'search', arguments: { query: 'x' } }] }),
      pricedAs: 'openai:gpt-9-ultra',
    });
    const runJob = job({ agent: 'research', input: { topic: 'redis' }, limits: { maxCostUsd: 1 } });
    await run(agentsOf(researchAgent(unpriced)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({
      status: 'budget_exceeded',
      llmCalls: 0,
      error: { message: expect.stringContaining('no known price') },
    });
  });

  it('does not take a refused or filtered answer for a final one', async () => {
    const refusing: LanguageModel = {
      provider: 'scripted',
      modelId: 'refusing',
      doGenerate: async () => ({
        text: 'I cannot help with that.',
        toolCalls: [],
        finishReason: 'content_filter',
        usage: { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningTokens: 0 },
      }),
    };
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(refusing)), runJob);
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'failed',
      error: { code: 'content_filtered' },
    });
  });

  it('sends an answer cut off at the output limit back for a shorter one', async () => {
    let calls = 0;
    const verbose: LanguageModel = {
      provider: 'scripted',
      modelId: 'verbose',
      doGenerate: async () => {
        calls += 1;
        return {
          text: calls === 1 ? '{"summary": "a very long' : '{"summary":"short"}',
          toolCalls: [],
          finishReason: calls === 1 ? 'length' : 'stop',
          usage: { inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningTokens: 0 },
        };
      },
    };
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(verbose)), runJob);
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'succeeded',
      output: { summary: 'short' },
      outputRepairs: 1,
    });
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns[1]).toMatchObject({ role: 'user', content: expect.stringContaining('cut off') });
  });

  it('does not make a call that would take the run past its USD budget, and says by how much', async () => {
    const { model, counter } = countingModel(() => ({
      toolCalls: [{ name: 'search', arguments: { query: 'again' } }],
    }));
    // gpt-4.1-mini prices: each call here estimates a little under $0.002 (1,000 output tokens at $1.60/1M).
    const runJob = job({ agent: 'research', input: { topic: 'redis' }, limits: { maxCostUsd: 0.002 } });
    await run(agentsOf(researchAgent(model)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(counter.calls).toBeGreaterThanOrEqual(1);
    expect(state).toMatchObject({
      status: 'budget_exceeded',
      llmCalls: counter.calls,
      error: {
        code: 'budget_exceeded',
        message: expect.stringContaining('would take the run past its $0.002000 limit'),
      },
      budget: { budget: 'run_cost_usd', limit: 0.002, spent: state?.costUsd, requested: expect.any(Number) },
    });
    expect((state?.costUsd ?? 0) + (state?.budget?.requested ?? 0)).toBeGreaterThan(0.002);
    expect(state?.costUsd).toBeLessThanOrEqual(0.002);
    expect(await eventsOf(runJob.runId)).toContainEqual(
      expect.objectContaining({ type: 'budget.exceeded', budget: 'run_cost_usd', limit: 0.002 }),
    );
  });

  it('stops every run of a tenant once its daily budget is spent, counting each call once', async () => {
    const { model } = countingModel(() => ({
      toolCalls: [{ name: 'search', arguments: { query: 'again' } }],
    }));
    const tenantEnvironment = runEnvironmentFromConfig(
      loadConfig({ ...testEnvironment, PLAINLOOP_TENANT_DAILY_BUDGETS: '{"acme":0.005}' }),
      { redis: redis.client, keys: redis.keys, logger },
    );
    const agents = agentsOf(researchAgent(model, { maxIterations: 50 }));
    const outcomes = [];
    for (const topic of ['one', 'two', 'three']) {
      const request = RunRequest.parse({ agent: 'research', input: { topic }, tenantId: 'acme' });
      outcomes.push(
        await executeRun({
          environment: tenantEnvironment,
          agents,
          job: { runId: runIdFor(request), request },
          signal: noStop,
          shouldRelease: () => false,
          lastAttempt: true,
        }),
      );
    }
    const states = outcomes.map((outcome) => (outcome.kind === 'finished' ? outcome.state : undefined));
    expect(states.every((state) => state?.status === 'budget_exceeded')).toBe(true);
    expect(states[0]?.budget?.budget).toBe('tenant_daily_usd');
    const spent = await tenantEnvironment.budgets.spent('acme', new Date().toISOString().slice(0, 10));
    const runCosts = states.reduce((sum, state) => sum + (state?.costUsd ?? 0), 0);
    expect(spent).toBeCloseTo(runCosts, 6);
    expect(spent).toBeLessThanOrEqual(0.005);
    // Another tenant is not touched by acme's budget.
    expect(tenantEnvironment.budgets.limitOf('globex')).toBeUndefined();
  });

  it('waits, rather than fails, when only other calls still in flight hold the tenant budget', async () => {
    const { model, counter } = countingModel(researchScript);
    const tenantEnvironment = runEnvironmentFromConfig(
      loadConfig({ ...testEnvironment, PLAINLOOP_TENANT_DAILY_BUDGETS: '{"acme":0.005}' }),
      { redis: redis.client, keys: redis.keys, logger },
    );
    // Another worker's call has reserved nearly the whole day and not settled yet.
    const held = await tenantEnvironment.budgets.reserve('acme', 'elsewhere', 0.00499, Date.now());
    expect(held.reserved).toBe(true);
    const request = RunRequest.parse({ agent: 'research', input: { topic: 'redis' }, tenantId: 'acme' });
    const runJob = { runId: runIdFor(request), request };
    const execute = () =>
      executeRun({
        environment: tenantEnvironment,
        agents: agentsOf(researchAgent(model)),
        job: runJob,
        signal: noStop,
        shouldRelease: () => false,
        lastAttempt: true,
      });
    const waited = await execute();
    expect(waited).toMatchObject({ kind: 'waiting' });
    expect(counter.calls).toBe(0);
    expect(await environment.store.load('acme', runJob.runId)).toMatchObject({ status: 'waiting' });

    // The other call settles for far less than it reserved: the run goes on and finishes.
    if (held.reserved && held.reservation) await tenantEnvironment.budgets.settle(held.reservation, 0.0001);
    const finished = await execute();
    expect(finished.kind === 'finished' && finished.state.status).toBe('succeeded');
  });

  it('fails a run whose input does not fit the agent, before any model call', async () => {
    const { model, counter } = countingModel(researchScript);
    const runJob = job({ agent: 'research', input: { subject: 'redis' } });
    await run(agentsOf(researchAgent(model)), runJob);
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'failed',
      error: { code: 'invalid_input', message: expect.stringContaining('topic') },
    });
    expect(counter.calls).toBe(0);
  });

  it('leaves a run for an agent it does not have to other workers, and fails it by name on the last attempt', async () => {
    const runJob = job({ agent: 'nobody', input: {} });
    const early = await executeRun({
      environment,
      agents: agentsOf(),
      job: runJob,
      signal: noStop,
      shouldRelease: () => false,
      lastAttempt: false,
    });
    expect(early).toEqual({ kind: 'unknown_agent', agent: 'nobody' });
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'queued',
      attempt: 0,
    });

    await run(agentsOf(), runJob);
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'failed',
      error: { code: 'unknown_agent' },
    });
  });

  it('ends in a structured failure when the model call fails, never a stack trace', async () => {
    const failing: LanguageModel = {
      provider: 'scripted',
      modelId: 'down',
      doGenerate: async () => {
        throw new LanguageModelError({
          kind: 'auth',
          message: '401: bad key',
          model: 'scripted:down',
          status: 401,
        });
      },
    };
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agentsOf(researchAgent(failing)), runJob);
    const state = await environment.store.load('default', runJob.runId);
    expect(state?.status).toBe('failed');
    expect(state?.error).toEqual({ code: 'llm_auth', message: '401: bad key', retryable: false });
    expect(await eventsOf(runJob.runId)).toContainEqual(expect.objectContaining({ type: 'llm.failed' }));
  });

  it('resumes a released run from its checkpoint without calling the model again', async () => {
    const { model, counter } = countingModel(researchScript);
    const agents = agentsOf(researchAgent(model));
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    let decided = false;
    const first = await run(agents, runJob, () => {
      const release = decided;
      decided = true;
      return release;
    });
    expect(first.kind).toBe('released');
    expect(first.kind === 'released' && first.state.pending?.result.toolCalls[0]?.name).toBe('search');
    expect(counter.calls).toBe(1);

    const second = await run(agents, runJob);
    expect(second.kind).toBe('finished');
    expect(counter.calls).toBe(3); // steps 1 and 2 only: step 0's answer came from the checkpoint
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'succeeded', attempt: 2, llmCalls: 3 });
    expect(await environment.store.loadModelCalls('default', runJob.runId)).toHaveLength(3);
    expect((await eventsOf(runJob.runId)).map((event) => event.type)).toContain('run.resumed');
  });

  it('gives a saved tool call that no longer validates its structured error on resume, and goes on', async () => {
    const { model } = countingModel(researchScript);
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    let decided = false;
    const first = await run(agentsOf(researchAgent(model)), runJob, () => {
      const release = decided;
      decided = true;
      return release;
    });
    expect(first.kind).toBe('released');

    // A deploy in between renamed the tool the saved answer calls.
    const renamed = defineTool({ ...searchDefinition, name: 'web_search' });
    const redeployed = defineAgent({
      name: 'research',
      instructions: 'Research the topic.',
      input: z.object({ topic: z.string() }),
      tools: [renamed, summarize],
      models: { plan: [model], execute: [model] },
    });
    const second = await run(agentsOf(redeployed), runJob);
    expect(second.kind).toBe('finished');
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns[1]).toMatchObject({ role: 'tool', toolName: 'search', isError: true });
    expect(turns[1]?.role === 'tool' && JSON.parse(turns[1].content)).toMatchObject({
      error: { code: 'unknown_tool' },
    });
  });

  it('treats a model answer that breaks the spec as a failed call, never saving it', async () => {
    const broken: LanguageModel = {
      provider: 'scripted',
      modelId: 'broken',
      doGenerate: async () =>
        ({
          text: 'x',
          toolCalls: [{ id: '', name: 'search', argumentsJson: '{}' }],
          finishReason: 'tool_calls',
          usage: { inputTokens: 1.5, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 },
        }) as GenerateResult,
    };
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    const outcome = await run(agentsOf(researchAgent(broken)), runJob);
    // Three broken answers are three server faults: the breaker opens and the run waits it out.
    expect(outcome.kind).toBe('waiting');
    const state = await environment.store.load('default', runJob.runId);
    expect(state).toMatchObject({ status: 'waiting', pending: null, llmCalls: 0 });
    const failures = (await eventsOf(runJob.runId)).filter((event) => event.type === 'llm.failed');
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({
      error: { code: 'llm_server', message: expect.stringContaining('does not fit the LanguageModel spec') },
    });
  });

  it('never runs again a call of a non-idempotent tool that was cut off, but re-runs an idempotent one', async () => {
    const runs = { charge: 0, lookup: 0 };
    let cutOff: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      cutOff = resolve;
    });
    const hangFirst = async (name: 'charge' | 'lookup', signal: AbortSignal) => {
      runs[name] += 1;
      if (runs.charge + runs.lookup <= 2) {
        if (runs.charge === 1 && runs.lookup === 1) cutOff();
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      }
      return `${name} done`;
    };
    const charge = defineTool({
      name: 'charge',
      description: 'Charge a card (not idempotent)',
      input: z.object({}),
      run: (_input, context) => hangFirst('charge', context.signal),
    });
    const lookup = defineTool({
      name: 'lookup',
      description: 'Read-only lookup',
      input: z.object({}),
      idempotent: true,
      run: (_input, context) => hangFirst('lookup', context.signal),
    });
    const { model } = countingModel(({ turn }) =>
      turn === 0
        ? {
            toolCalls: [
              { name: 'charge', arguments: {} },
              { name: 'lookup', arguments: {} },
            ],
          }
        : { text: 'done' },
    );
    const agents = agentsOf(
      defineAgent({
        name: 'research',
        instructions: 'Research.',
        input: z.object({ topic: z.string() }),
        tools: [charge, lookup],
        models: { plan: [model], execute: [model] },
      }),
    );
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    const stop = new AbortController();
    const first = executeRun({
      environment,
      agents,
      job: runJob,
      signal: stop.signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    await started;
    stop.abort(); // the worker is stopped with both calls in flight
    expect((await first).kind).toBe('released');

    await run(agents, runJob);
    expect(runs).toEqual({ charge: 1, lookup: 2 });
    const turns = await environment.store.loadTurns('default', runJob.runId);
    const results = turns.filter((turn) => turn.role === 'tool');
    expect(results.find((turn) => turn.role === 'tool' && turn.toolName === 'charge')).toMatchObject({
      isError: true,
      content: expect.stringContaining('tool_outcome_unknown'),
    });
    expect(results.find((turn) => turn.role === 'tool' && turn.toolName === 'lookup')).toMatchObject({
      isError: false,
      content: 'lookup done',
    });
  });

  it('ends a running run cancelled when a cancel arrives, stopping the call in flight', async () => {
    let toolAborted = false;
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const slow = defineTool({
      name: 'search',
      description: 'Slow search',
      input: z.object({ query: z.string() }),
      run: async (_input, context) => {
        started();
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
        toolAborted = true;
        return [];
      },
    });
    const { model } = countingModel(() => ({ toolCalls: [{ name: 'search', arguments: { query: 'x' } }] }));
    const agents = agentsOf(
      defineAgent({
        name: 'research',
        instructions: 'Research.',
        input: z.object({ topic: z.string() }),
        tools: [slow],
        models: { plan: [model], execute: [model] },
      }),
    );
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    const cancel = new AbortController(); // the worker's per-run controller, aborted by the control message
    const outcome = executeRun({
      environment,
      agents,
      job: runJob,
      signal: cancel.signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    await running;
    await environment.store.requestCancel('default', runJob.runId, 'stop please', 600);
    cancel.abort();
    expect(await outcome).toMatchObject({
      kind: 'finished',
      state: { status: 'cancelled', error: { code: 'cancelled', message: 'stop please' } },
    });
    await expect.poll(() => toolAborted).toBe(true);
    expect((await eventsOf(runJob.runId)).at(-1)).toMatchObject({
      type: 'run.finished',
      status: 'cancelled',
    });
  });

  it('fences out a stale worker: its write after another worker took the run over is refused', async () => {
    // Worker A gets stuck inside its first tool call (a long GC pause, a network partition).
    let toolStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      toolStarted = resolve;
    });
    let unblock: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    let toolRuns = 0;
    const stuckOnce = defineTool({
      name: 'search',
      description: 'Search; the first call hangs until released',
      input: z.object({ query: z.string() }),
      run: async () => {
        toolRuns += 1;
        if (toolRuns === 1) {
          toolStarted();
          await blocked;
        }
        return ['found'];
      },
    });
    // A second call of worker A's step, still running when A loses the run: it must be told to stop.
    let watchRuns = 0;
    let staleWatchAborted = false;
    const watch = defineTool({
      name: 'watch',
      description: 'Waits for its signal the first time',
      input: z.object({}),
      run: async (_input, context) => {
        watchRuns += 1;
        if (watchRuns > 1) return 'watched';
        await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
        staleWatchAborted = true;
        return 'aborted';
      },
    });
    const { model } = countingModel(({ turn }) =>
      turn === 0
        ? {
            toolCalls: [
              { name: 'search', arguments: { query: 'x' } },
              { name: 'watch', arguments: {} },
            ],
          }
        : { text: 'final' },
    );
    const agents = agentsOf(
      defineAgent({
        name: 'research',
        instructions: 'Research.',
        input: z.object({ topic: z.string() }),
        tools: [stuckOnce, watch],
        models: { plan: [model], execute: [model] },
      }),
    );
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });

    const stale = run(agents, runJob);
    await started;
    // Worker B gets the stalled job from BullMQ, takes the run over and finishes it.
    const takeover = await run(agents, runJob);
    expect(takeover.kind).toBe('finished');
    const finished = await environment.store.load('default', runJob.runId);
    expect(finished).toMatchObject({ status: 'succeeded', output: 'final', attempt: 2 });

    // Worker A wakes up and tries to checkpoint its tool result on the version it read.
    unblock();
    expect(await stale).toMatchObject({
      kind: 'fenced',
      reason: expect.stringContaining('another worker owns it'),
    });
    expect(await environment.store.load('default', runJob.runId)).toEqual(finished);
    // Losing the run aborted worker A's other call still in flight.
    await expect.poll(() => staleWatchAborted).toBe(true);
  });

  it('commits a live run and refuses a fenced-out one in the same batch: the fenced worker drops its run', async () => {
    // Two runs answer in the same turn of the event loop, so their decide checkpoints share one call;
    // while its model call is out, run "taken" is taken over by another worker (its version moves on).
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const waiting = { count: 0 };
    const takenJob = job({ agent: 'research', input: { topic: 'taken' } });
    const liveJob = job({ agent: 'research', input: { topic: 'live' } });
    const base = scriptedModel({ name: 'test', script: researchScript });
    const model: LanguageModel = {
      provider: base.provider,
      modelId: base.modelId,
      async doGenerate(options) {
        waiting.count += 1;
        if (waiting.count === 2) {
          const taken = await environment.store.load('default', takenJob.runId);
          if (taken) await environment.store.checkpoint(taken, { ...taken, attempt: taken.attempt + 1 });
          answer();
        }
        await answered;
        return base.doGenerate(options);
      },
    };
    const agents = agentsOf(researchAgent(model));
    const [takenOutcome, liveOutcome] = await Promise.all([run(agents, takenJob), run(agents, liveJob)]);
    expect(takenOutcome.kind).toBe('fenced');
    expect(liveOutcome).toMatchObject({ kind: 'finished', state: { status: 'succeeded' } });
    // The stale worker wrote nothing after the takeover: no answer, no event of it.
    const taken = await environment.store.load('default', takenJob.runId);
    expect(taken).toMatchObject({ status: 'running', pending: null, llmCalls: 0, attempt: 2 });
    expect((await eventsOf(takenJob.runId)).map((event) => event.type)).toEqual([
      'run.started',
      'step.started',
    ]);
  });

  it('does nothing for a run that already finished (a redelivered job)', async () => {
    const { model, counter } = countingModel(researchScript);
    const agents = agentsOf(researchAgent(model));
    const runJob = job({ agent: 'research', input: { topic: 'redis' } });
    await run(agents, runJob);
    const again = await run(agents, runJob);
    expect(again).toMatchObject({ kind: 'finished', state: { status: 'succeeded' } });
    expect(counter.calls).toBe(3);
  });

  it('fails the attempt when an ended run’s webhook cannot be queued, with the run ended and told; the next attempt queues it', async () => {
    const { model, counter } = countingModel(researchScript);
    const agents = agentsOf(researchAgent(model));
    const enqueueWebhook = vi
      .fn(async () => undefined)
      .mockRejectedValueOnce(new Error('the webhook queue is unreachable'));
    environment = { ...environment, enqueueWebhook };
    const runJob = job({
      agent: 'research',
      input: { topic: 'redis' },
      webhook: { url: 'https://hooks.example.com/plainloop' },
    });
    await expect(run(agents, runJob)).rejects.toThrow('the webhook queue is unreachable');
    // The run's own outcome does not depend on its webhook: ended, told, and written to the log of events.
    const ended = await environment.store.load('default', runJob.runId);
    expect(ended).toMatchObject({ status: 'succeeded', output: { summary: '2 texts about redis' } });
    expect((await eventsOf(runJob.runId)).filter((event) => event.type === 'run.finished')).toHaveLength(1);

    // BullMQ's retry of the job: the run is not run again, only its webhook queued.
    expect(await run(agents, runJob)).toMatchObject({ kind: 'finished', state: { status: 'succeeded' } });
    expect(enqueueWebhook).toHaveBeenCalledTimes(2);
    expect(enqueueWebhook).toHaveBeenLastCalledWith({ tenantId: 'default', runId: runJob.runId });
    expect(counter.calls).toBe(3);
    expect(await environment.store.load('default', runJob.runId)).toEqual(ended);
    expect((await eventsOf(runJob.runId)).filter((event) => event.type === 'run.finished')).toHaveLength(1);
  });

  it('tells of an exceeded budget even when the run’s webhook cannot be queued', async () => {
    const { model } = countingModel(() => ({
      toolCalls: [{ name: 'search', arguments: { query: 'again' } }],
    }));
    environment = {
      ...environment,
      enqueueWebhook: async () => {
        throw new Error('the webhook queue is unreachable');
      },
    };
    const runJob = job({
      agent: 'research',
      input: { topic: 'redis' },
      limits: { maxCostUsd: 0.002 },
      webhook: { url: 'https://hooks.example.com/plainloop' },
    });
    await expect(run(agentsOf(researchAgent(model)), runJob)).rejects.toThrow('unreachable');
    expect(await environment.store.load('default', runJob.runId)).toMatchObject({
      status: 'budget_exceeded',
    });
    const types = (await eventsOf(runJob.runId)).map((event) => event.type);
    expect(types.slice(-2)).toEqual(['run.finished', 'budget.exceeded']);
  });
});
