import { type RunEvent, RunStatus } from '@plainloop/contracts';
import type { RunStore } from '@plainloop/redis';
import type { RunEventStream } from '@plainloop/telemetry';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';
import { RunParams } from './run-parameters.ts';

const StepView = z.object({
  step: z.int().describe('0-based, as in the run events'),
  tier: z.string().optional(),
  replayed: z
    .boolean()
    .optional()
    .describe('On a fork: a step of the source run, replayed from its record (no model call made for it)'),
  modelCalls: z.array(
    z.object({
      model: z.string(),
      tokens: z.object({ input: z.int(), output: z.int() }),
      costUsd: z.number(),
      latencyMs: z.int(),
    }),
  ),
  toolCalls: z.array(
    z.object({
      tool: z.string(),
      outcome: z.enum(['success', 'error']),
      code: z.string().optional(),
      latencyMs: z.int(),
    }),
  ),
});
type StepView = z.infer<typeof StepView>;

const Timeline = z.object({
  runId: z.string(),
  status: RunStatus,
  costUsd: z.number(),
  steps: z.array(StepView),
});

/**
 * `GET /v1/runs/:id/steps`: the run's timeline, step by step: its tier, each model call (from the cost
 * ledger, which is exact) and each tool call with its outcome and latency (from the run's events,
 * which a worker crash between a checkpoint and its event can miss). A fork shows the steps it
 * replayed from its source, marked, while the source is still kept.
 */
export function registerRunStepRoutes(
  app: FastifyInstance,
  dependencies: { store: RunStore; events: Pick<RunEventStream, 'readWholeRun'> },
) {
  const schema = {
    summary: 'A run’s timeline',
    description:
      'Step by step: the tier, each model call (from the cost ledger, exact) and each tool call with its outcome and latency (from the run’s events).',
    tags: ['runs'],
    params: RunParams,
    response: { 200: Timeline, ...problems(400, 404) },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/runs/:runId/steps', { schema }, async (request, reply) => {
    const { tenantId } = request;
    const { runId } = request.params;
    const state = await dependencies.store.load(tenantId, runId);
    if (state === undefined) return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
    const steps = await timelineOf(dependencies, tenantId, runId);
    // A fork's first steps are its source's, replayed from the record: shown as the source had them,
    // and a fork of a fork goes on up to the run that made them (a few levels at most in practice).
    let origin = state.forkedFrom;
    for (let depth = 0; origin !== undefined && depth < 10; depth += 1) {
      const { runId: sourceId, step: fromStep } = origin;
      const replayed = await timelineOf(dependencies, tenantId, sourceId);
      for (const step of replayed.values())
        if (step.step < fromStep && !steps.has(step.step)) steps.set(step.step, { ...step, replayed: true });
      origin = (await dependencies.store.load(tenantId, sourceId))?.forkedFrom;
    }
    return reply.send({
      runId,
      status: state.status,
      costUsd: state.costUsd,
      steps: [...steps.values()].sort((left, right) => left.step - right.step),
    });
  });
}

/** A run's steps: model calls from its ledger, tiers and tool calls from its events. */
async function timelineOf(
  dependencies: { store: RunStore; events: Pick<RunEventStream, 'readWholeRun'> },
  tenantId: string,
  runId: string,
): Promise<Map<number, StepView>> {
  const [calls, stored] = await Promise.all([
    dependencies.store.loadModelCalls(tenantId, runId),
    dependencies.events.readWholeRun(tenantId, runId),
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
  return steps;
}
