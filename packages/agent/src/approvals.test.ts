import { loadConfig } from '@plainloop/config';
import { RunRequest, type RunRequestInput } from '@plainloop/contracts';
import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import { createRunQueue } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { defineTool } from '@plainloop/tools';
import type { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bindModels } from './bind-models.ts';
import { decideApproval } from './decide-approval.ts';
import { defineAgent } from './define-agent.ts';
import { executeRun } from './execute-run.ts';
import { type RunEnvironment, runEnvironmentFromConfig } from './run-environment.ts';
import { runIdFor } from './run-identity.ts';

describe('tools that need a person to approve each call', () => {
  let redis: TestRedis;
  let environment: RunEnvironment;
  let queue: Queue;
  let refunds: string[];
  const logger = createLogger({ service: 'test', level: 'silent' });

  function makeEnvironment(approvalTimeoutMs: number) {
    const config = loadConfig({ PLAINLOOP_APPROVAL_TIMEOUT_MS: String(approvalTimeoutMs) });
    return runEnvironmentFromConfig(config, { redis: redis.client, keys: redis.keys, logger });
  }

  beforeEach(async () => {
    redis = await useTestRedis();
    environment = makeEnvironment(60_000);
    queue = createRunQueue(redis.connect(), redis.keys);
    refunds = [];
  });
  afterEach(async () => {
    await queue.close();
    await redis.close();
  });

  const refund = defineTool({
    name: 'refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string() }),
    requiresApproval: true,
    run: ({ orderId }) => {
      refunds.push(orderId);
      return { refunded: orderId };
    },
  });
  const model = scriptedModel({
    name: 'support',
    script: ({ turn, toolResults }) =>
      turn === 0
        ? { toolCalls: [{ name: 'refund', arguments: { orderId: 'order-42' } }] }
        : { text: `result: ${JSON.stringify(toolResults.get('refund'))}` },
  });
  const agent = defineAgent({
    name: 'support',
    instructions: 'Refund when asked.',
    input: z.object({ message: z.string() }),
    tools: [refund],
    models: { plan: [model], execute: [model] },
  });
  const agents = new Map([[agent.name, bindModels(agent, createModelCatalog({})).bound]]);

  function job(input: RunRequestInput) {
    const request = RunRequest.parse(input);
    return { runId: runIdFor(request), request };
  }
  const run = (runJob: ReturnType<typeof job>, using = environment) =>
    executeRun({
      environment: using,
      agents,
      job: runJob,
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });

  it('waits for a decision without running the call, then runs it once approved', async () => {
    const runJob = job({ agent: 'support', input: { message: 'refund order 42' } });
    const parked = await run(runJob);
    expect(parked).toMatchObject({ kind: 'waiting', state: { status: 'waiting' } });
    expect(parked.kind === 'waiting' && parked.resumeAt - Date.now()).toBeGreaterThan(50_000);
    expect(refunds).toEqual([]);
    const callId = parked.kind === 'waiting' ? (parked.state.pending?.result.toolCalls[0]?.id ?? '') : '';

    const decided = await decideApproval({ environment, queue }, 'default', runJob.runId, callId, {
      approved: true,
    });
    expect(decided).toMatchObject({ kind: 'decided' });
    // A second decision on the same call is refused: it is no longer awaited.
    expect(
      await decideApproval({ environment, queue }, 'default', runJob.runId, callId, { approved: false }),
    ).toMatchObject({
      kind: 'not_awaiting',
    });

    const finished = await run(runJob);
    expect(finished).toMatchObject({
      kind: 'finished',
      state: { status: 'succeeded', output: 'result: {"refunded":"order-42"}' },
    });
    expect(refunds).toEqual(['order-42']);
  });

  it('tells the model a denial as a structured error, with the approver comment', async () => {
    const runJob = job({ agent: 'support', input: { message: 'refund order 42' } });
    const parked = await run(runJob);
    const callId = parked.kind === 'waiting' ? (parked.state.pending?.result.toolCalls[0]?.id ?? '') : '';
    await decideApproval({ environment, queue }, 'default', runJob.runId, callId, {
      approved: false,
      comment: 'not eligible',
    });
    const finished = await run(runJob);
    expect(refunds).toEqual([]);
    expect(finished).toMatchObject({
      kind: 'finished',
      state: { status: 'succeeded', output: expect.stringContaining('approval_denied') },
    });
    const turns = await environment.store.loadTurns('default', runJob.runId);
    expect(turns.find((turn) => turn.role === 'tool')).toMatchObject({
      isError: true,
      content: expect.stringContaining('not eligible'),
    });
  });

  it('runs an approved call while another waits, and a decision meanwhile never fences the worker', async () => {
    const twoRefunds = scriptedModel({
      name: 'two',
      script: ({ turn }) =>
        turn === 0
          ? {
              toolCalls: [
                { name: 'refund', arguments: { orderId: 'a' } },
                { name: 'refund', arguments: { orderId: 'b' } },
              ],
            }
          : { text: 'settled' },
    });
    const agent2 = defineAgent({
      name: 'support',
      instructions: 'Refund when asked.',
      input: z.object({ message: z.string() }),
      tools: [refund],
      models: { plan: [twoRefunds], execute: [twoRefunds] },
    });
    const agents2 = new Map([[agent2.name, bindModels(agent2, createModelCatalog({})).bound]]);
    const runTwo = (runJob: ReturnType<typeof job>) =>
      executeRun({
        environment,
        agents: agents2,
        job: runJob,
        signal: new AbortController().signal,
        shouldRelease: () => false,
        lastAttempt: true,
      });
    const runJob = job({ agent: 'support', input: { message: 'refund a and b' } });
    const parked = await runTwo(runJob);
    const [first, second] = parked.kind === 'waiting' ? (parked.state.pending?.result.toolCalls ?? []) : [];
    await decideApproval({ environment, queue }, 'default', runJob.runId, first?.id ?? '', {
      approved: true,
    });
    // The worker goes on with the approved call; the other still waits, and its denial lands meanwhile.
    const running = runTwo(runJob);
    await decideApproval({ environment, queue }, 'default', runJob.runId, second?.id ?? '', {
      approved: false,
    });
    const afterFirst = await running;
    expect(afterFirst.kind === 'waiting' || afterFirst.kind === 'finished').toBe(true);
    const finished = afterFirst.kind === 'finished' ? afterFirst : await runTwo(runJob);
    expect(finished).toMatchObject({ kind: 'finished', state: { status: 'succeeded' } });
    expect(refunds).toEqual(['a']);
    const results = (await environment.store.loadTurns('default', runJob.runId)).filter(
      (turn) => turn.role === 'tool',
    );
    expect(results.map((turn) => turn.role === 'tool' && turn.isError)).toEqual([false, true]);
  });

  it('refuses the call when nobody decides in time, and a late decision with it', async () => {
    const hurried = makeEnvironment(1_000);
    const runJob = job({ agent: 'support', input: { message: 'refund order 42' } });
    const parked = await run(runJob, hurried);
    expect(parked.kind).toBe('waiting');
    const callId = parked.kind === 'waiting' ? (parked.state.pending?.result.toolCalls[0]?.id ?? '') : '';
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Past the deadline, before any worker came back: too late to approve.
    expect(
      await decideApproval({ environment: hurried, queue }, 'default', runJob.runId, callId, {
        approved: true,
      }),
    ).toMatchObject({
      kind: 'not_awaiting',
    });
    const finished = await run(runJob, hurried);
    expect(refunds).toEqual([]);
    expect(finished).toMatchObject({
      state: { status: 'succeeded', output: expect.stringContaining('approval_timeout') },
    });
  });
});
