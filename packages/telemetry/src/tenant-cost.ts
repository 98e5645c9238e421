import type { KeySchema, Redis } from '@plainloop/redis';

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
  redis: Redis,
  keys: KeySchema,
  tenantId: string,
  day: string,
): Promise<number> {
  const reads = redis.pipeline();
  for (const { tenantCost } of keys.metricsAggregates) reads.hget(tenantCost, tenantCostField(day, tenantId));
  let total = 0;
  for (const [, value] of (await reads.exec()) ?? []) total += Number(value ?? 0);
  return total;
}

/** Every tenant's cost on a UTC day, by tenant. */
export async function readTenantCostsOfDay(
  redis: Redis,
  keys: KeySchema,
  day: string,
): Promise<Map<string, number>> {
  const prefix = tenantCostField(day, '');
  const costs = new Map<string, number>();
  const reads = redis.pipeline();
  for (const { tenantCost } of keys.metricsAggregates) reads.hgetall(tenantCost);
  for (const [, fields] of (await reads.exec()) ?? []) {
    for (const [field, value] of Object.entries((fields ?? {}) as Record<string, string>)) {
      const tenant = field.slice(prefix.length);
      if (field.startsWith(prefix)) costs.set(tenant, (costs.get(tenant) ?? 0) + Number(value));
    }
  }
  return costs;
}
