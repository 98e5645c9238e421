import type { RunEvent } from '@plainloop/contracts';
import type { RunStore } from '@plainloop/redis';
import type { RunEventStream } from '@plainloop/telemetry';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from '../problem.ts';
import { issuesOf, RunParams } from './run-parameters.ts';

type StepView = {
  step: number;
  tier?: string;
  modelCalls: Array<{
    model: string;
    tokens: { input: number; output: number };
    costUsd: number;
    latencyMs: number;
  }>;
  toolCalls: Array<{ tool: string; outcome: 'success' | 'error'; code?: string; latencyMs: number }>;
};

/**
 * `GET /v1/runs/:id/steps`: the run's timeline, step by step: its tier, each model call (from the cost
 * ledger, which is exact) and each tool call with its outcome and latency (from the run's events,
 * which a worker crash between a checkpoint and its event can miss).
 */
export function registerRunStepRoutes(
  app: FastifyInstance,
  dependencies: { store: RunStore; events: Pick<RunEventStream, 'readRun'> },
) {
  app.get('/v1/runs/:runId/steps', async (request, reply) => {
    const params = RunParams.safeParse(request.params);
    if (!params.success)
      return sendProblem(reply, 400, 'invalid_request', 'that is not a run id', issuesOf(params.error));
    const { tenantId } = request;
    const { runId } = params.data;
    const state = await dependencies.store.load(tenantId, runId);
    if (state === undefined) return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
    const [calls, stored] = await Promise.all([
      dependencies.store.loadModelCalls(tenantId, runId),
      dependencies.events.readRun(tenantId, runId),
    ]);
    const steps = new Map<number, StepView>();
    const stepOf = (step: number) => {
      const known = steps.get(step) ?? { step, modelCalls: [], toolCalls: [] };
      steps.set(step, known);
      return known;
    };
    for (const call of calls) {
      stepOf(call.step).modelCalls.push({
        model: call.model,
        tokens: { input: call.usage.inputTokens, output: call.usage.outputTokens },
        costUsd: call.costUsd,
        latencyMs: Math.round(call.latencyMs),
      });
    }
    for (const { event } of stored) {
      const step = (event as RunEvent & { step?: number }).step;
      if (step === undefined) continue;
      if (event.type === 'step.started') stepOf(step).tier = event.tier;
      if (event.type === 'tool.called')
        stepOf(step).toolCalls.push({
          tool: event.tool,
          outcome: 'success',
          latencyMs: Math.round(event.latencyMs),
        });
      if (event.type === 'tool.failed')
        stepOf(step).toolCalls.push({
          tool: event.tool,
          outcome: 'error',
          code: event.error.code,
          latencyMs: Math.round(event.latencyMs),
        });
    }
    return reply.send({
      runId,
      status: state.status,
      costUsd: state.costUsd,
      steps: [...steps.values()].sort((left, right) => left.step - right.step),
    });
  });
}
