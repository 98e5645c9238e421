import type { TenantBudget } from '@plainloop/agent';
import type { CircuitBreaker } from '@plainloop/llm';
import type { KeySchema, RedisConnection } from '@plainloop/redis';
import { readTenantCostsOfDay, utcDayOf } from '@plainloop/telemetry';
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { eventSourcesOf, metricsGroup } from './event-consumer.ts';

export type LiveGaugeSources = {
  redis: RedisConnection;
  keys: KeySchema;
  /** The queues whose jobs are counted, by name. */
  queues: ReadonlyArray<Queue>;
  breaker: CircuitBreaker;
  /** The tenants' daily budgets and their ledger, the same the workers stop runs by. */
  budgets: TenantBudget;
  /** Tenants with a budget of their own (the `*` entry left out). */
  budgetedTenants: readonly string[];
  /** Whether tenants without a budget of their own (under `*`) get a series each. */
  tenantLabel: boolean;
};

const jobStates = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

const breakerValue = { closed: 0, half_open: 1, open: 2 } as const;

/**
 * Gauges read from Redis at scrape time, so they are as fresh as the scrape and cost nothing between
 * scrapes: queue depth by state, each model's breaker, how far the metrics process is behind the
 * stream, and which of its alerts fire.
 */
export function registerLiveGauges(registry: Registry, sources: LiveGaugeSources): void {
  const { redis, keys, queues, breaker, budgets, budgetedTenants, tenantLabel } = sources;
  new Gauge({
    name: 'plainloop_queue_jobs',
    help: 'Jobs in each BullMQ queue, by state.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const queue of queues) {
        const counts = await queue.getJobCounts(...jobStates);
        for (const state of jobStates) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'plainloop_breaker_state',
    help: "Each model's fleet-wide circuit breaker: 0 closed, 1 half-open, 2 open.",
    labelNames: ['provider', 'model'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const snapshot of await breaker.read()) {
        const colon = snapshot.model.indexOf(':');
        this.set(
          { provider: snapshot.model.slice(0, colon), model: snapshot.model.slice(colon + 1) },
          breakerValue[snapshot.state],
        );
      }
    },
  });
  // Added up over every shard's stream (entries, each one or more events).
  const consumerState = async () => {
    const state = { lag: 0, pending: 0 };
    for (const { stream } of await eventSourcesOf(redis, keys)) {
      const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      for (const group of groups) {
        const fields = Object.fromEntries(
          Array.from({ length: group.length / 2 }, (_, index) => [group[index * 2], group[index * 2 + 1]]),
        ) as Record<string, unknown>;
        if (fields.name !== metricsGroup) continue;
        state.lag += Number(fields.lag ?? 0);
        state.pending += Number(fields.pending ?? 0);
      }
    }
    return state;
  };
  new Gauge({
    name: 'plainloop_event_consumer_lag',
    help: "Entries of the shards' event streams (each one or more run events) the metrics process has not read yet.",
    registers: [registry],
    async collect() {
      this.set((await consumerState()).lag);
    },
  });
  new Gauge({
    name: 'plainloop_event_consumer_pending',
    help: "Entries of the shards' event streams the metrics process read but has not applied and acknowledged yet.",
    registers: [registry],
    async collect() {
      this.set((await consumerState()).pending);
    },
  });
  new Gauge({
    name: 'plainloop_tenant_budget_used_ratio',
    help: "Share of each budgeted tenant's daily USD budget spent today (tenants under `*` only with the tenant label on).",
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      this.reset();
      const today = utcDayOf(Date.now());
      const tenants = new Set(budgetedTenants);
      if (tenantLabel && budgets.limitOf('*') !== undefined) {
        for (const tenantId of (await readTenantCostsOfDay(redis, keys, today)).keys()) tenants.add(tenantId);
      }
      for (const tenantId of tenants) {
        const limit = budgets.limitOf(tenantId);
        if (limit !== undefined)
          this.set({ tenant: tenantId }, (await budgets.spent(tenantId, today)) / limit);
      }
    },
  });
  new Gauge({
    name: 'plainloop_alert_firing',
    help: "1 while one of the metrics process's own alerts fires, 0 once it resolved.",
    labelNames: ['alert'],
    registers: [registry],
    async collect() {
      const states = await redis.hgetall(keys.metrics.alerts);
      for (const [alert, json] of Object.entries(states)) {
        const state = JSON.parse(json) as { firing: boolean };
        this.set({ alert }, state.firing ? 1 : 0);
      }
    },
  });
}
