import type { KeySchema, Redis } from '@plainloop/redis';

/** The field of a tenant's cost on one UTC day in `keys.metrics.tenantCost`, written by the metrics process. */
export function tenantCostField(day: string, tenantId: string): string {
  return `${day}|${tenantId}`;
}

/** The UTC day of a time, as the tenant's daily cost and budget are keyed. */
export function utcDayOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/**
 * What a tenant's model calls cost on a UTC day, in USD, as the metrics process counted them from the
 * run events (a few hundred milliseconds behind the calls while it keeps up; days older than a week
 * are dropped).
 */
export async function readTenantCost(
  redis: Redis,
  keys: KeySchema,
  tenantId: string,
  day: string,
): Promise<number> {
  return Number((await redis.hget(keys.metrics.tenantCost, tenantCostField(day, tenantId))) ?? 0);
}

/** Every tenant's cost on a UTC day, by tenant. */
export async function readTenantCostsOfDay(
  redis: Redis,
  keys: KeySchema,
  day: string,
): Promise<Map<string, number>> {
  const prefix = tenantCostField(day, '');
  const costs = new Map<string, number>();
  for (const [field, value] of Object.entries(await redis.hgetall(keys.metrics.tenantCost))) {
    if (field.startsWith(prefix)) costs.set(field.slice(prefix.length), Number(value));
  }
  return costs;
}
