import { runJob } from '@plainloop/contracts';
import { runShardCount, shardOf, shardTags } from './run-shards.ts';

/**
 * Every Redis key plainloop writes, in one place. Keys of one run share its shard's hash tag (see
 * run-shards.ts), so one script call commits many runs of a shard atomically on Redis Cluster too; keys
 * that hold tenant data carry the tenant, so a lookup made with the caller's tenant cannot reach another
 * tenant's run.
 */
export type RunKeys = {
  /** The run's shard (0 to `runShardCount - 1`). */
  shard: number;
  state: string;
  turns: string;
  ledger: string;
  events: string;
  /** Present while someone has asked to cancel the run (its value is the reason). */
  cancel: string;
  /** People's decisions on the run's calls that need approval, by call id (kept out of the fenced state). */
  approvals: string;
  /** How the delivery of the run's webhook went (hash: status, attempts, last answer); see packages/webhooks. */
  webhook: string;
};

/** A shard's own keys: its event stream and the metrics process's aggregates of it, in its slot. */
export type ShardKeys = {
  shard: number;
  /** Every run event of the shard's runs, a write's events per entry (field `events`, JSON lines). */
  events: string;
  /** A tenant's runs of this shard by creation time (sorted set: run id, scored by `createdAt`). */
  runIndex(tenantId: string): string;
  metrics: MetricsAggregateKeys;
};

/** What the metrics process adds up from one event stream, kept in that stream's slot. */
export type MetricsAggregateKeys = {
  /** Durable counters and histogram buckets: field `name|labels[|bucket]` -> value. */
  totals: string;
  /** Run and model call outcomes and cost per time bucket, for the alert window. */
  window: string;
  /** Cost per tenant per UTC day: field `day|tenant` -> USD. */
  tenantCost: string;
};

function runKeysAt(base: string, shard: number): RunKeys {
  return {
    shard,
    state: base,
    turns: `${base}:turns`,
    ledger: `${base}:ledger`,
    events: `${base}:events`,
    cancel: `${base}:cancel`,
    approvals: `${base}:approvals`,
    webhook: `${base}:webhook`,
  };
}

export type KeySchema = ReturnType<typeof createKeySchema>;

export function createKeySchema(prefix: string) {
  const shards: readonly ShardKeys[] = shardTags.map((tag, shard) => {
    const base = `${prefix}:{${tag}}`;
    return {
      shard,
      events: `${base}:events`,
      runIndex: (tenantId: string) => `${base}:tenant:${tenantId}:runs`,
      metrics: {
        totals: `${base}:metrics:totals`,
        window: `${base}:metrics:window`,
        tenantCost: `${base}:metrics:tenant-cost`,
      },
    };
  });
  const legacyMetrics: MetricsAggregateKeys = {
    totals: `${prefix}:{events}:metrics:totals`,
    window: `${prefix}:{events}:metrics:window`,
    tenantCost: `${prefix}:{events}:metrics:tenant-cost`,
  };
  return {
    prefix,
    /**
     * Every place the metrics process keeps what it added up: each shard's, and the one of the layout
     * before shards (what was counted before an upgrade keeps counting). Readers add them all up.
     */
    metricsAggregates: [...shards.map((shard) => shard.metrics), legacyMetrics] as const,
    /** BullMQ's own prefix; the hash tag keeps each queue's keys in one cluster slot. */
    queuePrefix: `{${prefix}}`,
    shardCount: runShardCount,
    shards,
    shard: (index: number): ShardKeys => shards[index] as ShardKeys,
    run(tenantId: string, runId: string): RunKeys {
      const shard = shardOf(runId);
      return runKeysAt(`${prefix}:{${shardTags[shard]}}:tenant:${tenantId}:run:${runId}`, shard);
    },
    /**
     * The layout before shards (each run its own hash tag, one global event stream), read and moved
     * from by `RunStore` so a deployment upgraded in place loses no run (see docs/upgrading.md).
     */
    legacy: {
      run: (tenantId: string, runId: string): RunKeys =>
        runKeysAt(`${prefix}:tenant:${tenantId}:run:{${runId}}`, shardOf(runId)),
      runIndex: (tenantId: string) => `${prefix}:tenant:${tenantId}:runs`,
      events: `${prefix}:{events}`,
      metrics: legacyMetrics,
    },
    /** The metrics process's own state (the aggregates live with each stream: `shards[i].metrics`). */
    metrics: {
      /** Each alert's state (firing or not, since when, notified or not). */
      alerts: `${prefix}:{events}:metrics:alerts`,
      /** Held by the one metrics process that evaluates and sends alerts. */
      alerterLease: `${prefix}:{events}:metrics:alerter-lease`,
    },
    /** The pub/sub channel that carries requests to every worker (cancel a run it holds). */
    control: `${prefix}:control`,
    /** Agent manifests published by workers, by agent name. */
    agents: `${prefix}:agents`,
    /** A tenant's spend on one UTC day: totals, open reservations and the ledger by call id. */
    tenantSpend(tenantId: string, day: string) {
      const base = `${prefix}:tenant:${tenantId}:spend:{${tenantId}:${day}}`;
      return { totals: base, reservations: `${base}:reservations`, ledger: `${base}:ledger` };
    },
    /**
     * A conversation thread of a tenant: its turns (appended only), its memory (the rolling summary and
     * how many turns it covers), its facts, the runs appended to it, and its queue of runs (one active
     * at a time, in order). One hash tag, so the thread scripts are atomic on Redis Cluster too.
     */
    thread(tenantId: string, threadId: string) {
      const base = `${prefix}:tenant:${tenantId}:thread:{${tenantId}:${threadId}}`;
      return {
        turns: `${base}:turns`,
        memory: `${base}:memory`,
        facts: `${base}:facts`,
        runs: `${base}:runs`,
        queue: `${base}:queue`,
      };
    },
    /** A tenant's semantic memory in one namespace: item id -> text, metadata and vector. */
    vectors: (tenantId: string, namespace: string) =>
      `${prefix}:tenant:${tenantId}:vectors:{${tenantId}:${namespace}}`,
    /** A model's fleet-wide circuit breaker; `breakers` lists every model that has one. */
    breaker: (model: string) => `${prefix}:breaker:{${model}}`,
    breakers: `${prefix}:breakers`,
    /** A model's fleet-wide admission: requests and tokens of the last minute, and any cooldown. */
    admission(model: string) {
      const base = `${prefix}:admission:{${model}}`;
      return {
        requests: `${base}:requests`,
        tokens: `${base}:tokens`,
        tokenTotal: `${base}:token-total`,
        cooldown: `${base}:cooldown`,
      };
    },
  };
}

export const queueNames = {
  runs: runJob.queueName,
  webhooks: 'plainloop-webhooks',
} as const;
