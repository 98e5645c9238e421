import { submitRun } from '@plainloop/agent';
import type { PlainloopConfig } from '@plainloop/config';
import { RunRequest, TenantId } from '@plainloop/contracts';
import type { ThreadQueue } from '@plainloop/memory';
import type { KeySchema, RedisConnection, RunStore } from '@plainloop/redis';
import type { Logger, RunEventStream } from '@plainloop/telemetry';
import { readWebhookDelivery } from '@plainloop/webhooks';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentCatalog } from '../agent-catalog.ts';
import { problems, sendProblem } from '../problem.ts';
import { IdempotencyHeaders, idempotencyKeyOf, RunAccepted, RunParams } from './run-parameters.ts';
import { presentRun, RunView } from './run-view.ts';
import { refuseUndeliverableWebhook } from './run-webhook-check.ts';

export type RunRoutesDependencies = {
  store: RunStore;
  queue: Queue;
  events: RunEventStream;
  agents: AgentCatalog;
  logger: Logger;
  threads: ThreadQueue;
  webhooks: PlainloopConfig['webhooks'];
  redis: RedisConnection;
  keys: KeySchema;
};

const inputOfRunRequest = RunRequest.shape.input;

/**
 * The body of `POST /v1/runs`: a RunRequest whose tenant, if named at all, must be the key's. The input
 * is checked by RunRequest's own rules, run as a refinement: the document then shows it as any JSON
 * value, where the recursive JSON schema would give a reference no OpenAPI tool can resolve.
 */
const RunRequestBody = RunRequest.extend({
  tenantId: TenantId.optional(),
  input: z
    .unknown()
    .superRefine((value, context) => {
      const checked = inputOfRunRequest.safeParse(value);
      for (const issue of checked.error?.issues ?? [])
        context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    })
    .describe('Any JSON value that fits the agent’s input schema (see GET /v1/agents)'),
}).meta({ id: 'RunRequest' });

export function registerRunRoutes(app: FastifyInstance, dependencies: RunRoutesDependencies) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post(
    '/v1/runs',
    {
      schema: {
        summary: 'Start a run',
        description:
          'Validates the body and the input against the agent’s published schema, creates the run and queues it. The same idempotency key again gives the same run (200, `idempotent-replayed: true`).',
        tags: ['runs'],
        headers: IdempotencyHeaders,
        body: RunRequestBody,
        response: { 202: RunAccepted, 200: RunAccepted, ...problems(400, 403, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      // The key decides the tenant: a body that names another is refused, one that names none gets it.
      if (request.body.tenantId !== undefined && request.body.tenantId !== request.tenantId) {
        return sendProblem(reply, 403, 'wrong_tenant', 'the body names a tenant other than the API key’s');
      }
      const idempotency = idempotencyKeyOf(
        reply,
        request.headers['idempotency-key'],
        request.body.idempotencyKey,
      );
      if (idempotency === 'refused') return reply;
      const runRequest: RunRequest = {
        ...request.body,
        // Checked by RunRequest's own input rules above.
        input: request.body.input as RunRequest['input'],
        tenantId: request.tenantId,
        ...(idempotency.key === undefined ? {} : { idempotencyKey: idempotency.key }),
      };
      if (refuseUndeliverableWebhook(reply, dependencies.webhooks, runRequest.webhook)) return reply;
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
    },
  );

  routes.get(
    '/v1/runs/:runId',
    {
      schema: {
        summary: 'Read a run',
        description:
          'Its status, output or error, usage and cost (updated at every model call), steps and approvals.',
        tags: ['runs'],
        params: RunParams,
        response: { 200: RunView, ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const { tenantId } = request;
      const { runId } = request.params;
      const state = await dependencies.store.load(tenantId, runId);
      if (!state) return sendProblem(reply, 404, 'run_not_found', `no run ${runId}`);
      const modelCalls = await dependencies.store.loadModelCalls(tenantId, state.runId);
      // Decisions recorded since the worker's last checkpoint show as decided at once.
      const awaiting = Object.values(state.pending?.approvals ?? {}).some(
        (approval) => approval.decision === 'pending',
      );
      const decisions = awaiting ? await dependencies.store.loadDecisions(tenantId, state.runId) : {};
      const delivery =
        state.webhook === undefined
          ? undefined
          : await readWebhookDelivery(dependencies.redis, dependencies.keys, tenantId, state.runId);
      return reply.send(presentRun(state, modelCalls, decisions, delivery));
    },
  );
}
