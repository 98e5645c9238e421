import type { TenantBudget } from '@plainloop/agent';
import type { KeySchema, RedisConnection } from '@plainloop/redis';
import { readTenantCost, utcDayOf } from '@plainloop/telemetry';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems } from '../problem.ts';

const CostQuery = z.object({ day: z.iso.date().optional().describe('A UTC day; today by default') });

const TenantCost = z.object({
  tenantId: z.string(),
  day: z.string(),
  costUsd: z.number().describe('What the tenant’s model calls cost that day, counted from the run events'),
  budget: z
    .object({ dailyUsd: z.number(), spentUsd: z.number() })
    .nullable()
    .describe('The tenant’s daily budget and its own ledger (the number that stops runs), if it has one'),
});

export type CostRoutesDependencies = { redis: RedisConnection; keys: KeySchema; budgets: TenantBudget };

/**
 * A tenant's spend on a UTC day while it happens: what its model calls cost (counted by the metrics
 * process from the run events), and, when the tenant has a daily budget, the budget's own ledger (the
 * number that stops runs). A run's own cost is on `GET /v1/runs/:id`, updated at every model call.
 */
export function registerCostRoutes(app: FastifyInstance, { redis, keys, budgets }: CostRoutesDependencies) {
  const schema = {
    summary: 'The tenant’s cost of a day',
    tags: ['cost'],
    querystring: CostQuery,
    response: { 200: TenantCost, ...problems(400) },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/cost', { schema }, async (request) => {
    const { tenantId } = request;
    const day = request.query.day ?? utcDayOf(Date.now());
    const limit = budgets.limitOf(tenantId);
    return {
      tenantId,
      day,
      costUsd: await readTenantCost(redis, keys, tenantId, day),
      budget: limit === undefined ? null : { dailyUsd: limit, spentUsd: await budgets.spent(tenantId, day) },
    };
  });
}
