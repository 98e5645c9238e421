import { type KeySchema, pipelinePerSlot, type RedisConnection } from '@plainloop/redis';

/** The field of a tenant's cost on one UTC day in each `tenantCost` aggregate, written by the metrics process. */
export function tenantCostField(day: string, tenantId: string): string {
  return `${day}|${tenantId}`;
}

/** The UTC day of a time, as the tenant's daily cost and budget are keyed. */
export function utcDayOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * What a tenant's model calls cost on a UTC day, in USD, as the metrics process counted them from the
 * run events of every shard (a few hundred milliseconds behind the calls while it keeps up; days older than a week
 * are dropped).
 */
export async function readTenantCost(
  redis: RedisConnection,
  keys: KeySchema,
  tenantId: string,
  day: string,
): Promise<number> {
  const replies = await pipelinePerSlot(
    redis,
    keys.metricsAggregates.map(({ tenantCost }) => tenantCost),
    (reads, key) => reads.hget(key, tenantCostField(day, tenantId)),
  );
  let total = 0;
  for (const [, value] of replies) total += Number(value ?? 0);
  return total;
}

/** Every tenant's cost on a UTC day, by tenant. */
export async function readTenantCostsOfDay(
  redis: RedisConnection,
  keys: KeySchema,
  day: string,
): Promise<Map<string, number>> {
  const prefix = tenantCostField(day, '');
  const costs = new Map<string, number>();
  const replies = await pipelinePerSlot(
    redis,
    keys.metricsAggregates.map(({ tenantCost }) => tenantCost),
    (reads, key) => reads.hgetall(key),
  );
  for (const [, fields] of replies) {
    for (const [field, value] of Object.entries((fields ?? {}) as Record<string, string>)) {
      const tenant = field.slice(prefix.length);
      if (field.startsWith(prefix)) costs.set(tenant, (costs.get(tenant) ?? 0) + Number(value));
    }
  }
  return costs;
}
