import type { TenantBudget } from '@plainloop/agent';
import type { KeySchema, Redis } from '@plainloop/redis';
import { readTenantCost, utcDayOf } from '@plainloop/telemetry';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendProblem } from '../problem.ts';
import { issuesOf } from './run-parameters.ts';

const CostQuery = z.object({ day: z.iso.date().optional() });

export type CostRoutesDependencies = { redis: Redis; keys: KeySchema; budgets: TenantBudget };

/**
 * A tenant's spend on a UTC day while it happens: what its model calls cost (counted by the metrics
 * process from the run events), and, when the tenant has a daily budget, the budget's own ledger (the
 * number that stops runs). A run's own cost is on `GET /v1/runs/:id`, updated at every model call.
 */
export function registerCostRoutes(app: FastifyInstance, { redis, keys, budgets }: CostRoutesDependencies) {
  app.get('/v1/cost', async (request, reply) => {
    const query = CostQuery.safeParse(request.query);
    if (!query.success)
      return sendProblem(reply, 400, 'invalid_query', 'the query is not valid', issuesOf(query.error));
    const { tenantId } = request;
    const day = query.data.day ?? utcDayOf(Date.now());
    const limit = budgets.limitOf(tenantId);
    return {
      tenantId,
      day,
      costUsd: await readTenantCost(redis, keys, tenantId, day),
      budget: limit === undefined ? null : { dailyUsd: limit, spentUsd: await budgets.spent(tenantId, day) },
    };
  });
}
