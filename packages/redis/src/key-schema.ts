import { runJob } from '@plainloop/contracts';

/**
 * Every Redis key plainloop writes, in one place. Keys of one run share the run id as a hash tag, so
 * the checkpoint script can touch them atomically on Redis Cluster; keys that hold tenant data carry
 * the tenant, so a lookup made with the caller's tenant cannot reach another tenant's run.
 */
export type RunKeys = {
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

export type KeySchema = ReturnType<typeof createKeySchema>;

export function createKeySchema(prefix: string) {
  return {
    prefix,
    /** BullMQ's own prefix; the hash tag keeps each queue's keys in one cluster slot. */
    queuePrefix: `{${prefix}}`,
    run(tenantId: string, runId: string): RunKeys {
      const base = `${prefix}:tenant:${tenantId}:run:{${runId}}`;
      return {
        state: base,
        turns: `${base}:turns`,
        ledger: `${base}:ledger`,
        events: `${base}:events`,
        cancel: `${base}:cancel`,
        approvals: `${base}:approvals`,
        webhook: `${base}:webhook`,
      };
    },
    /** A tenant's runs by creation time (sorted set: run id, scored by `createdAt`), for listing them. */
    runIndex: (tenantId: string) => `${prefix}:tenant:${tenantId}:runs`,
    /**
     * Every run event of every tenant, trimmed; read by the metrics process and the demo. The hash tag
     * puts the metrics process's aggregates in the stream's slot, so applying events and acknowledging
     * them is one atomic script on Redis Cluster too.
     */
    events: `${prefix}:{events}`,
    /** The metrics process's state, beside the stream it consumes. */
    metrics: {
      /** Durable counters and histogram buckets: field `name|labels[|bucket]` -> value. */
      totals: `${prefix}:{events}:metrics:totals`,
      /** Run and model call outcomes and cost per time bucket, for the alert window. */
      window: `${prefix}:{events}:metrics:window`,
      /** Cost per tenant per UTC day: field `day|tenant` -> USD. */
      tenantCost: `${prefix}:{events}:metrics:tenant-cost`,
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
