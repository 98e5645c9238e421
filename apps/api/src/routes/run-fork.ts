import { forkRun, type SubmitDependencies } from '@plainloop/agent';
import type { PlainloopConfig } from '@plainloop/config';
import { ModelRef, RunLimits, RunWebhook } from '@plainloop/contracts';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';
import { IdempotencyHeaders, idempotencyKeyOf, RunParams } from './run-parameters.ts';
import { refuseUndeliverableWebhook } from './run-webhook-check.ts';

const ModelChain = z.array(ModelRef).min(1).max(8);

const ForkRequest = z
  .strictObject({
    fromStep: z.int().min(0).max(1_000).describe('How many completed steps of the source to replay'),
    models: z
      .strictObject({ plan: ModelChain.optional(), execute: ModelChain.optional() })
      .optional()
      .describe('Chains that replace the agent’s for the fork; a tier left out keeps the agent’s'),
    idempotencyKey: z.string().min(1).max(256).optional(),
    limits: RunLimits.optional(),
    webhook: RunWebhook.optional(),
  })
  .meta({ id: 'ForkRequest' });

const ForkAccepted = z.object({
  runId: z.string(),
  status: z.string(),
  forkedFrom: z.object({ runId: z.string(), step: z.int() }),
});

/**
 * `POST /v1/runs/:id/fork`: a new run that replays the source's first `fromStep` steps from its record
 * (no model call, no tool run) and goes on from there, with other models if asked: compare outcome and
 * cost with `GET /v1/runs/:id` of both.
 */
export function registerRunForkRoutes(
  app: FastifyInstance,
  dependencies: SubmitDependencies & { webhooks: PlainloopConfig['webhooks'] },
) {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/runs/:runId/fork',
    {
      schema: {
        summary: 'Fork a run from a step',
        description:
          'A new run that starts from the source’s recorded steps 1..fromStep (copied: no model call, no tool run) and continues, with other model chains if given. The fork’s cost counts only its own calls; `forkedFrom.costUsd` is what the replayed steps cost the source. Runs on a thread cannot be forked.',
        tags: ['runs'],
        params: RunParams,
        headers: IdempotencyHeaders,
        body: ForkRequest,
        response: { 202: ForkAccepted, 200: ForkAccepted, ...problems(400, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { runId } = request.params;
      const idempotency = idempotencyKeyOf(
        reply,
        request.headers['idempotency-key'],
        request.body.idempotencyKey,
      );
      if (idempotency === 'refused') return reply;
      const { models, limits, webhook, fromStep } = request.body;
      if (refuseUndeliverableWebhook(reply, dependencies.webhooks, webhook)) return reply;
      const forked = await forkRun(
        dependencies,
        {
          tenantId: request.tenantId,
          sourceRunId: runId,
          fromStep,
          ...(models === undefined ? {} : { models }),
          ...(limits === undefined ? {} : { limits }),
          ...(webhook === undefined ? {} : { webhook }),
          ...(idempotency.key === undefined ? {} : { idempotencyKey: idempotency.key }),
        },
        Date.now(),
      );
      switch (forked.kind) {
        case 'not_found':
          return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
        case 'invalid':
          return sendProblem(reply, 422, 'invalid_fork', forked.reason);
        case 'conflict':
          return sendProblem(
            reply,
            409,
            'idempotency_conflict',
            'this idempotency key was already used for a different request',
          );
        default: {
          const { state } = forked;
          reply.header('location', `/v1/runs/${state.runId}`);
          if (forked.kind === 'existing') reply.header('idempotent-replayed', 'true');
          return reply.code(forked.kind === 'created' ? 202 : 200).send({
            runId: state.runId,
            status: state.status,
            forkedFrom: { runId: state.forkedFrom?.runId ?? runId, step: state.forkedFrom?.step ?? fromStep },
          });
        }
      }
    },
  );
}
