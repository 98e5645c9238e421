import { submitRun } from '@plainloop/agent';
import { type ModelCallRecord, type RecordedDecision, RunRequest, type RunState } from '@plainloop/contracts';
import type { ThreadQueue } from '@plainloop/memory';
import type { RunStore } from '@plainloop/redis';
import type { Logger, RunEventStream } from '@plainloop/telemetry';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { AgentCatalog } from '../agent-catalog.ts';
import { sendProblem } from '../problem.ts';
import { issuesOf, RunParams } from './run-parameters.ts';

export type RunRoutesDependencies = {
  store: RunStore;
  queue: Queue;
  events: RunEventStream;
  agents: AgentCatalog;
  logger: Logger;
  threads: ThreadQueue;
};

/** Validates a body; JSON nested deep enough to overflow the validator's stack is a 400, not a 500. */
function parseRunRequest(body: unknown) {
  try {
    return RunRequest.safeParse(body);
  } catch (error) {
    if (error instanceof RangeError) return 'too_deep' as const;
    throw error;
  }
}

const iso = (epochMs: number | undefined) =>
  epochMs === undefined ? undefined : new Date(epochMs).toISOString();

function parsedArguments(argumentsJson: string | undefined): unknown {
  try {
    return argumentsJson === undefined ? undefined : JSON.parse(argumentsJson);
  } catch {
    return argumentsJson;
  }
}

/** The calls of the step in progress that need, or had, a person's decision: what an approver sees. */
function approvalsOf(state: RunState, decisions: Readonly<Record<string, RecordedDecision>>) {
  const { pending } = state;
  if (pending === null) return [];
  return Object.entries(pending.approvals).map(([callId, saved]) => {
    const approval = saved.decision === 'pending' ? { ...saved, ...decisions[callId] } : saved;
    const call = pending.result.toolCalls.find((each) => each.id === callId);
    return {
      callId,
      tool: call?.name,
      arguments: parsedArguments(call?.argumentsJson),
      decision: approval.decision,
      requestedAt: iso(approval.requestedAt),
      decidedAt: iso(approval.decidedAt),
      comment: approval.comment,
    };
  });
}

/** The run as a producer sees it: no transcript, no internal bookkeeping. */
function presentRun(
  state: RunState,
  modelCalls: ModelCallRecord[],
  decisions: Readonly<Record<string, RecordedDecision>>,
) {
  return {
    runId: state.runId,
    agent: state.agent,
    tenantId: state.tenantId,
    status: state.status,
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.error === undefined ? {} : { error: { code: state.error.code, message: state.error.message } }),
    usage: state.usage,
    costUsd: state.costUsd,
    /** False when a model's price was unknown: `costUsd` then leaves those calls out. */
    costComplete: state.unpricedCalls === 0,
    stepCount: state.step,
    steps: modelCalls.map((call) => ({
      step: call.step,
      model: call.model,
      finishReason: call.finishReason,
      toolCalls: call.toolCalls,
      usage: call.usage,
      costUsd: call.costUsd,
      costKnown: call.costKnown,
      latencyMs: Math.round(call.latencyMs),
    })),
    approvals: approvalsOf(state, decisions),
    ...(state.budget === undefined ? {} : { budget: state.budget }),
    attempts: state.attempt,
    createdAt: iso(state.createdAt),
    startedAt: iso(state.startedAt),
    finishedAt: iso(state.finishedAt),
    durationMs: state.finishedAt === undefined ? undefined : state.finishedAt - state.createdAt,
  };
}

export function registerRunRoutes(app: FastifyInstance, dependencies: RunRoutesDependencies) {
  app.post('/v1/runs', async (request, reply) => {
    const body = parseRunRequest(request.body);
    if (body === 'too_deep') {
      return sendProblem(reply, 400, 'invalid_request', 'the body nests too deeply');
    }
    if (!body.success) {
      return sendProblem(
        reply,
        400,
        'invalid_request',
        'the body is not a valid run request',
        issuesOf(body.error),
      );
    }
    // The key decides the tenant: a body that names another is refused, one that names none gets it.
    const named = (request.body as { tenantId?: unknown } | null)?.tenantId;
    if (named !== undefined && named !== request.tenantId) {
      return sendProblem(reply, 403, 'wrong_tenant', 'the body names a tenant other than the API key’s');
    }
    const runRequest = { ...body.data, tenantId: request.tenantId };
    const check = await dependencies.agents.checkInput(runRequest.agent, runRequest.input);
    if (!check.ok) return sendProblem(reply, 422, check.code, check.detail, check.errors);
    const submitted = await submitRun(dependencies, runRequest, Date.now());
    if (submitted.kind === 'conflict') {
      return sendProblem(
        reply,
        409,
        'idempotency_conflict',
        'this idempotency key was already used for a different request',
      );
    }
    const { runId, status } = submitted.state;
    reply.header('location', `/v1/runs/${runId}`);
    if (submitted.kind === 'existing') reply.header('idempotent-replayed', 'true');
    return reply.code(submitted.kind === 'created' ? 202 : 200).send({ runId, status });
  });

  app.get('/v1/runs/:runId', async (request, reply) => {
    const params = RunParams.safeParse(request.params);
    if (!params.success)
      return sendProblem(reply, 400, 'invalid_request', 'that is not a run id', issuesOf(params.error));
    const { tenantId } = request;
    const state = await dependencies.store.load(tenantId, params.data.runId);
    if (!state) return sendProblem(reply, 404, 'run_not_found', `no run ${params.data.runId}`);
    const modelCalls = await dependencies.store.loadModelCalls(tenantId, state.runId);
    // Decisions recorded since the worker's last checkpoint show as decided at once.
    const awaiting = Object.values(state.pending?.approvals ?? {}).some(
      (approval) => approval.decision === 'pending',
    );
    const decisions = awaiting ? await dependencies.store.loadDecisions(tenantId, state.runId) : {};
    return reply.send(presentRun(state, modelCalls, decisions));
  });
}
