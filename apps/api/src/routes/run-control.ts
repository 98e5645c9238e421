import { type CancelDependencies, cancelRun, decideApproval } from '@plainloop/agent';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { sendProblem } from '../problem.ts';
import { issuesOf, RunParams } from './run-parameters.ts';

const CancelBody = z.strictObject({ reason: z.string().min(1).max(500).optional() }).optional();

/** Acting on a run from outside: cancel it (approvals join here). */
export function registerRunControlRoutes(app: FastifyInstance, dependencies: CancelDependencies) {
  app.post('/v1/runs/:runId/cancel', async (request, reply) => {
    const params = RunParams.safeParse(request.params);
    if (!params.success)
      return sendProblem(reply, 400, 'invalid_request', 'that is not a run id', issuesOf(params.error));
    const body = CancelBody.safeParse(request.body ?? undefined);
    if (!body.success)
      return sendProblem(
        reply,
        400,
        'invalid_request',
        'the body is not a cancel request',
        issuesOf(body.error),
      );
    const { runId } = params.data;
    const { tenantId } = request;
    const outcome = await cancelRun(
      dependencies,
      tenantId,
      runId,
      body.data?.reason ?? 'cancelled on request',
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
        // A worker holds the run; it ends it within moments. Poll GET /v1/runs/:id for the status.
        return reply.code(202).send({ runId, status: outcome.state.status, cancel: 'requested' });
    }
  });
}

const ApprovalParams = RunParams.extend({ callId: z.string().min(1).max(256) });
const ApprovalBody = z.strictObject({
  approved: z.boolean(),
  comment: z.string().min(1).max(2_000).optional(),
});

const ApproveBody = ApprovalBody.extend({ callId: z.string().min(1).max(256) });

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
  const refuseBody = (reply: FastifyReply, error: z.ZodError) =>
    sendProblem(reply, 400, 'invalid_request', 'the body is not an approval decision', issuesOf(error));

  app.post('/v1/runs/:runId/approvals/:callId', async (request, reply) => {
    const params = ApprovalParams.safeParse(request.params);
    if (!params.success)
      return sendProblem(reply, 400, 'invalid_request', 'bad run or call id', issuesOf(params.error));
    const body = ApprovalBody.safeParse(request.body);
    if (!body.success) return refuseBody(reply, body.error);
    return decide(reply, request.tenantId, params.data.runId, params.data.callId, body.data);
  });

  app.post('/v1/runs/:runId/approve', async (request, reply) => {
    const params = RunParams.safeParse(request.params);
    if (!params.success)
      return sendProblem(reply, 400, 'invalid_request', 'that is not a run id', issuesOf(params.error));
    const body = ApproveBody.safeParse(request.body);
    if (!body.success) return refuseBody(reply, body.error);
    const { callId, ...decision } = body.data;
    return decide(reply, request.tenantId, params.data.runId, callId, decision);
  });
}
