import {
  bindModels,
  executeRun,
  loadAgents,
  type RunEnvironment,
  runEnvironmentFromConfig,
  runIdFor,
} from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { RunRequest } from '@plainloop/contracts';
import { createModelCatalog } from '@plainloop/llm';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import agents from './index.ts';

describe('the example agents, offline', () => {
  let redis: TestRedis;
  let environment: RunEnvironment;
  // No OPENAI_API_KEY: the openai models are left out of the chains and the scripted stand-ins serve.
  const catalog = createModelCatalog({ openai: {} });
  const bound = new Map(agents.map((agent) => [agent.name, bindModels(agent, catalog).bound]));

  beforeEach(async () => {
    redis = await useTestRedis();
    environment = runEnvironmentFromConfig(loadConfig({}), {
      redis: redis.client,
      keys: redis.keys,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
  });
  afterEach(() => redis.close());

  async function runToEnd(agent: string, input: unknown) {
    const request = RunRequest.parse({ agent, input });
    const outcome = await executeRun({
      environment,
      agents: bound,
      job: { runId: runIdFor(request), request },
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    if (outcome.kind !== 'finished') throw new Error(`run did not finish: ${outcome.kind}`);
    return outcome.state;
  }

  it('loads from the module path the worker is given', async () => {
    const loaded = await loadAgents(new URL('./index.ts', import.meta.url).pathname);
    expect(loaded.map((agent) => agent.name)).toEqual(['research', 'lead-qualification']);
  });

  it('leaves the openai models out when no key is set, and says why', () => {
    const research = agents.find((agent) => agent.name === 'research');
    if (!research) throw new Error('no research agent');
    const { notes, bound } = bindModels(research, catalog);
    expect(bound.models.plan.map((model) => `${model.provider}:${model.modelId}`)).toEqual([
      'scripted:research-plan',
    ]);
    expect(notes.skipped[0]).toContain('needs OPENAI_API_KEY');
  });

  it('research: searches, summarises, and answers with its sources', async () => {
    const state = await runToEnd('research', { topic: 'stalled jobs and retries' });
    expect(state.status).toBe('succeeded');
    expect(state.step).toBe(3);
    expect(state.output).toMatchObject({
      summary: expect.stringContaining('stall'),
      sources: expect.arrayContaining(['https://docs.bullmq.io/guide/workers/stalled-jobs']),
    });
    expect(state.costUsd).toBeGreaterThan(0);
  });

  it('research: answers plainly when nothing is found', async () => {
    const state = await runToEnd('research', { topic: 'quantum gardening' });
    expect(state).toMatchObject({ status: 'succeeded', step: 2, output: { sources: [] } });
  });

  it('lead qualification: qualifies a large lead with buying signals', async () => {
    const state = await runToEnd('lead-qualification', {
      name: 'Ada',
      email: 'ada@globex.com',
      message: 'We want pricing for 400 seats and a demo next week.',
    });
    expect(state.status).toBe('succeeded');
    expect(state.output).toMatchObject({
      qualified: true,
      score: 100,
      nextStep: 'book a discovery call this week',
    });
  });

  it('lead qualification: turns an unknown company into an answer, not a failure', async () => {
    const state = await runToEnd('lead-qualification', {
      name: 'Bo',
      email: 'bo@unknown.example',
      message: 'hi',
    });
    expect(state.status).toBe('succeeded');
    expect(state.output).toMatchObject({ qualified: false, reasons: ['company not found'] });
  });
});
