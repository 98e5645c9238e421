import { type CancelDependencies, cancelRun, decideApproval } from '@plainloop/agent';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems, sendProblem } from '../problem.ts';
import { RunParams } from './run-parameters.ts';

const CancelBody = z
  .strictObject({ reason: z.string().min(1).max(500).optional() })
  .nullish()
  .describe('Optional; the reason is kept with the run');

const CancelReply = z.object({
  runId: z.string(),
  status: z.string(),
  cancel: z.literal('requested').optional().describe('A worker holds the run and ends it within moments'),
});

/** Acting on a run from outside: cancel it (approvals join here). */
export function registerRunControlRoutes(app: FastifyInstance, dependencies: CancelDependencies) {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/runs/:runId/cancel',
    {
      schema: {
        summary: 'Cancel a run',
        description:
          'A queued or waiting run ends `cancelled` at once (200); a run a worker holds is told to stop (202: poll the run for its status). Cancelling a cancelled run is a no-op; any other ended run is a 409.',
        tags: ['runs'],
        params: RunParams,
        body: CancelBody,
        response: { 200: CancelReply, 202: CancelReply, ...problems(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { runId } = request.params;
      const outcome = await cancelRun(
        dependencies,
        request.tenantId,
        runId,
        request.body?.reason ?? 'cancelled on request',
      );
      switch (outcome.kind) {
        case 'not_found':
          return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
        case 'already_finished':
          if (outcome.state.status === 'cancelled') return reply.send({ runId, status: 'cancelled' });
          return sendProblem(
            reply,
            409,
            'run_finished',
            `run ${runId} already ended with status ${outcome.state.status}`,
          );
        case 'cancelled':
          return reply.send({ runId, status: 'cancelled' });
        case 'requested':
          return reply.code(202).send({ runId, status: outcome.state.status, cancel: 'requested' });
      }
    },
  );
}

const ApprovalParams = RunParams.extend({ callId: z.string().min(1).max(256) });
const ApprovalBody = z.strictObject({
  approved: z.boolean(),
  comment: z.string().min(1).max(2_000).optional(),
});
const ApproveBody = ApprovalBody.extend({ callId: z.string().min(1).max(256) });
const DecisionReply = z.object({
  runId: z.string(),
  callId: z.string(),
  decision: z.enum(['approved', 'denied']),
});

/**
 * A person's decision on a tool call that waits for approval: at `/v1/runs/:id/approvals/:callId`, or
 * at `/v1/runs/:id/approve` with the call id in the body. Same rules either way.
 */
export function registerApprovalRoutes(
  app: FastifyInstance,
  dependencies: Pick<CancelDependencies, 'environment' | 'queue'>,
) {
  const decide = async (
    reply: FastifyReply,
    tenantId: string,
    runId: string,
    callId: string,
    body: z.infer<typeof ApprovalBody>,
  ) => {
    const decision = { approved: body.approved, ...(body.comment ? { comment: body.comment } : {}) };
    const outcome = await decideApproval(dependencies, tenantId, runId, callId, decision);
    switch (outcome.kind) {
      case 'not_found':
        return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
      case 'not_awaiting':
        return sendProblem(
          reply,
          409,
          'not_awaiting_approval',
          `run ${runId} is not waiting for a decision on call ${callId}`,
        );
      case 'decided':
        return reply.send({ runId, callId, decision: body.approved ? 'approved' : 'denied' });
    }
  };
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const description =
    'Approves or denies a tool call that waits for a person (see `approvals` on the run). Each call is decided once; a decision after the deadline is refused (409). A denial reaches the model as an error.';

  routes.post(
    '/v1/runs/:runId/approvals/:callId',
    {
      schema: {
        summary: 'Decide a tool call that waits for approval',
        description,
        tags: ['runs'],
        params: ApprovalParams,
        body: ApprovalBody,
        response: { 200: DecisionReply, ...problems(400, 404, 409) },
      },
    },
    async (request, reply) =>
      decide(reply, request.tenantId, request.params.runId, request.params.callId, request.body),
  );

  routes.post(
    '/v1/runs/:runId/approve',
    {
      schema: {
        summary: 'Decide a tool call that waits for approval (call id in the body)',
        description,
        tags: ['runs'],
        params: RunParams,
        body: ApproveBody,
        response: { 200: DecisionReply, ...problems(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const { callId, ...decision } = request.body;
      return decide(reply, request.tenantId, request.params.runId, callId, decision);
    },
  );
}
