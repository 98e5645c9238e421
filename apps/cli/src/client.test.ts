import { PlainloopApiError, PlainloopClient, RunProducer, type StreamedEvent } from '@plainloop/client';
import { closeRedisClient, createRedisClient } from '@plainloop/redis';
import { type FakeProviderServer, waitFor } from '@plainloop/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiFleet, startApiFleet } from './test-fixtures/api-fleet.ts';

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

// One API and one worker process for the whole file: the client against the real thing.
describe('@plainloop/client against a real API and worker', { timeout: 60_000 }, () => {
  let setup: ApiFleet;
  let client: PlainloopClient;
  let openai: FakeProviderServer;

  beforeAll(async () => {
    setup = await startApiFleet('key-of-the-acme-tenant-for-client');
    ({ client, openai } = setup);
  }, 90_000);
  afterAll(async () => {
    await setup?.stop();
  });

  it('creates a run, follows it to its end, and gives the same run again for the same idempotency key', async () => {
    expect((await client.agents()).map((agent) => agent.name).sort()).toEqual([
      'lookup',
      'refunds',
      'sleeper',
      'stubborn',
    ]);
    const request = { agent: 'lookup', input: { topic: 'redis' } };
    const created = await client.createRun(request, { idempotencyKey: 'client-create-1' });
    expect(created).toMatchObject({ status: 'queued', replayed: false });

    const seen: StreamedEvent[] = [];
    const run = await client.waitForRun(created.runId, { onEvent: (streamed) => seen.push(streamed) });
    expect(run).toMatchObject({
      runId: created.runId,
      agent: 'lookup',
      tenantId: 'acme',
      status: 'succeeded',
      output: { answer: 'redis is fine' },
      stepCount: 2,
    });
    expect(run.costUsd).toBeGreaterThan(0);
    expect(seen.at(-1)?.event).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    expect(seen.map((streamed) => streamed.event.type)).toEqual(
      expect.arrayContaining(['step.started', 'llm.called', 'tool.called']),
    );

    const again = await client.createRun(request, { idempotencyKey: 'client-create-1' });
    expect(again).toEqual({ runId: created.runId, status: 'succeeded', replayed: true });
    // A run that has ended is returned at once.
    expect(await client.waitForRun(again.runId)).toEqual(await client.getRun(again.runId));

    const timeline = await client.steps(created.runId);
    expect(timeline.steps).toMatchObject([
      {
        step: 0,
        tier: 'plan',
        modelCalls: [{ model: 'scripted:lookup-plan' }],
        toolCalls: [{ tool: 'lookup', outcome: 'success' }],
      },
      { step: 1, tier: 'execute', modelCalls: [{ model: 'scripted:lookup-execute' }], toolCalls: [] },
    ]);
    const ledgered = timeline.steps
      .flatMap((step) => step.modelCalls)
      .reduce((sum, call) => sum + call.costUsd, 0);
    expect(ledgered).toBeCloseTo(run.costUsd, 12);
  });

  it('streams every event of a run once, in order, and resumes after any of them', async () => {
    const { runId } = await client.createRun({ agent: 'lookup', input: { topic: 'streams' } });
    const all: StreamedEvent[] = [];
    for await (const streamed of client.events(runId)) all.push(streamed);
    expect(all[0]?.event.type).toBe('run.queued');
    expect(all.at(-1)?.event.type).toBe('run.finished');
    expect(new Set(all.map((streamed) => streamed.id)).size).toBe(all.length);

    const resumed: string[] = [];
    for await (const { id } of client.events(runId, { lastEventId: all[2]?.id })) resumed.push(id);
    expect(resumed).toEqual(all.slice(3).map((streamed) => streamed.id));
  });

  it('lists runs by filter, page by page, newest first', async () => {
    const created: string[] = [];
    for (const topic of ['one', 'two', 'three'])
      created.push((await client.createRun({ agent: 'lookup', input: { topic }, threadId: 'paging' })).runId);
    await client.createRun({ agent: 'lookup', input: { topic: 'elsewhere' }, threadId: 'other-thread' });

    const first = await client.listRuns({ threadId: 'paging', limit: 2 });
    expect(first.runs.map((run) => run.runId)).toEqual([created[2], created[1]]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await client.listRuns({ threadId: 'paging', limit: 2, cursor: first.nextCursor ?? '' });
    expect(second.runs.map((run) => run.runId)).toEqual([created[0]]);

    const everyRun: string[] = [];
    for await (const run of client.runs({ threadId: 'paging', limit: 1 })) everyRun.push(run.runId);
    expect(everyRun).toEqual([...created].reverse());
    for (const runId of created) expect((await client.waitForRun(runId)).status).toBe('succeeded');
    const succeeded = await client.listRuns({ threadId: 'paging', status: 'succeeded' });
    expect(succeeded.runs).toHaveLength(3);
    expect(succeeded.runs[0]).toMatchObject({ agent: 'lookup', status: 'succeeded', threadId: 'paging' });
  });

  it('cancels a run while its worker is in a tool call, and refuses to cancel a run that ended otherwise', async () => {
    const { runId } = await client.createRun({ agent: 'sleeper', input: { ms: 60_000 } });
    await waitFor('the pause to start', async () => {
      const run = await client.getRun(runId);
      return run.status === 'running' && run.steps.length === 1 ? true : undefined;
    });
    const started = Date.now();
    // Usually the worker is told and ends the run within moments (202, requested); when it is quicker
    // than the API's second look at the run, the answer already says cancelled.
    expect([
      { runId, status: 'running', cancel: 'requested' },
      { runId, status: 'cancelled' },
    ]).toContainEqual(await client.cancel(runId, 'no longer needed'));
    const run = await client.waitForRun(runId);
    expect(run).toMatchObject({
      status: 'cancelled',
      error: { code: 'cancelled', message: 'no longer needed' },
    });
    expect(Date.now() - started).toBeLessThan(10_000);

    const done = await client.createRun({ agent: 'lookup', input: { topic: 'finished' } });
    await client.waitForRun(done.runId);
    expect(await failureOf(client.cancel(done.runId))).toMatchObject({ status: 409, code: 'run_finished' });
  });

  it('approves one tool call and denies another; a call is decided once', async () => {
    const pendingCall = async (runId: string) =>
      waitFor('the run to wait for approval', async () => {
        const run = await client.getRun(runId);
        const approval = run.approvals.find((each) => each.decision === 'pending');
        return run.status === 'waiting' && approval ? approval : undefined;
      });
    const approved = await client.createRun({ agent: 'refunds', input: { orderId: 'order-42' } });
    const call = await pendingCall(approved.runId);
    expect(call).toMatchObject({ tool: 'refund', arguments: { orderId: 'order-42' } });
    expect(await client.approve(approved.runId, call.callId, { approved: true })).toEqual({
      runId: approved.runId,
      callId: call.callId,
      decision: 'approved',
    });
    expect(await client.waitForRun(approved.runId)).toMatchObject({
      status: 'succeeded',
      output: 'refund: {"refunded":"order-42"}',
    });
    expect(await failureOf(client.approve(approved.runId, call.callId, { approved: false }))).toMatchObject({
      status: 409,
      code: 'not_awaiting_approval',
    });

    const denied = await client.createRun({ agent: 'refunds', input: { orderId: 'order-43' } });
    const deniedCall = await pendingCall(denied.runId);
    await client.approve(denied.runId, deniedCall.callId, { approved: false, comment: 'not eligible' });
    const deniedRun = await client.waitForRun(denied.runId);
    expect(deniedRun.status).toBe('succeeded');
    expect(deniedRun.output).toContain('approval_denied');
  });

  it('surfaces every refusal as a PlainloopApiError a caller can act on', async () => {
    expect(await failureOf(client.getRun('run_doesnotexist0000'))).toMatchObject({
      status: 404,
      code: 'run_not_found',
      retryable: false,
    });
    const stranger = new PlainloopClient({ baseUrl: setup.baseUrl, apiKey: 'a-key-nobody-was-given' });
    expect(await failureOf(stranger.listRuns())).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(await failureOf(client.createRun({ agent: 'nobody', input: {} }))).toMatchObject({
      status: 422,
      code: 'unknown_agent',
    });
    const invalid = await failureOf(client.createRun({ agent: 'lookup', input: { subject: 'x' } }));
    expect(invalid).toBeInstanceOf(PlainloopApiError);
    expect(invalid).toMatchObject({ status: 422, code: 'invalid_input' });
    expect((invalid as PlainloopApiError).errors.join()).toContain('topic');
  });

  it('enqueues straight into BullMQ: the worker runs it, and fails input the API would have refused', async () => {
    // Such a run exists from the moment a worker takes its job; until then it is not found.
    const taken = (runId: string) =>
      waitFor(`a worker to take ${runId}`, () => client.getRun(runId).catch(() => undefined));
    // The producer's own ioredis client, as a backend would make it: one Redis or a cluster.
    const connection = createRedisClient(setup.redis.url, 'worker');
    const producer = new RunProducer({ connection, prefix: setup.redis.prefix });
    try {
      const direct = await producer.enqueue({
        agent: 'lookup',
        input: { topic: 'bullmq' },
        tenantId: 'acme',
        idempotencyKey: 'direct-1',
      });
      await taken(direct.runId);
      expect(await client.waitForRun(direct.runId)).toMatchObject({
        status: 'succeeded',
        output: { answer: 'bullmq is fine' },
      });
      // The same key over HTTP lands on the same run: both paths derive the id alike.
      expect(
        await client.createRun(
          { agent: 'lookup', input: { topic: 'bullmq' } },
          { idempotencyKey: 'direct-1' },
        ),
      ).toMatchObject({ runId: direct.runId, replayed: true });

      const unchecked = await producer.enqueue({
        agent: 'lookup',
        input: { subject: 'x' },
        tenantId: 'acme',
      });
      await taken(unchecked.runId);
      expect(await client.waitForRun(unchecked.runId)).toMatchObject({
        status: 'failed',
        error: { code: 'invalid_input' },
      });
    } finally {
      await producer.close();
      await closeRedisClient(connection);
    }
  });

  it('forks a run from a step onto other models: the replayed steps call nothing, the rest runs on the new model', async () => {
    const source = await client.createRun({ agent: 'lookup', input: { topic: 'forks' } });
    const sourceRun = await client.waitForRun(source.runId);
    expect(sourceRun.stepCount).toBe(2);
    const requestsBefore = openai.requests.length;

    const models = { plan: ['openai:gpt-4.1-mini'], execute: ['openai:gpt-4.1-mini'] };
    const forked = await client.fork(source.runId, { fromStep: 1, models, idempotencyKey: 'fork-1' });
    expect(forked).toEqual({
      runId: expect.stringMatching(/^run_/),
      status: 'queued',
      forkedFrom: { runId: source.runId, step: 1 },
      replayed: false,
    });
    const fork = await client.waitForRun(forked.runId);
    expect(fork).toMatchObject({
      status: 'succeeded',
      output: { answer: 'answered by openai' },
      stepCount: 2,
      models,
      forkedFrom: { runId: source.runId, step: 1, costUsd: sourceRun.steps[0]?.costUsd },
    });
    // One model call, on the new model, that saw the source's replayed tool result; the lookup did not run again.
    expect(openai.requests.length - requestsBefore).toBe(1);
    expect(JSON.stringify(openai.requests.at(-1)?.body)).toContain('forks is fine');
    expect(fork.steps.map((call) => call.model)).toEqual(['openai:gpt-4.1-mini']);
    expect((await client.steps(forked.runId)).steps).toMatchObject([
      {
        step: 0,
        replayed: true,
        modelCalls: [{ model: 'scripted:lookup-plan' }],
        toolCalls: [{ tool: 'lookup' }],
      },
      { step: 1, modelCalls: [{ model: 'openai:gpt-4.1-mini' }] },
    ]);

    expect(await client.fork(source.runId, { fromStep: 1, models, idempotencyKey: 'fork-1' })).toMatchObject({
      runId: forked.runId,
      replayed: true,
    });
    expect(await failureOf(client.fork(source.runId, { fromStep: 5 }))).toMatchObject({
      status: 422,
      code: 'invalid_fork',
    });
    expect(await failureOf(client.fork('run_doesnotexist0000', { fromStep: 0 }))).toMatchObject({
      status: 404,
      code: 'run_not_found',
    });
  });
});
