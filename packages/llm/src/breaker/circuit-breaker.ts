import type { LanguageModelErrorKind, ModelRef } from '@plainloop/contracts';
import {
  type KeySchema,
  pipelinePerSlot,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import { BoundedStalenessCache } from '../bounded-staleness-cache.ts';

export type BreakerSettings = {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets one probe through. */
  cooldownMs: number;
  /** How long a probe may take before another caller may probe instead. */
  probeLeaseMs: number;
};

export type BreakerState = 'closed' | 'open' | 'half_open';

export type BreakerDecision =
  | { allowed: true; state: BreakerState }
  | { allowed: false; state: BreakerState; retryInMs: number };

export type BreakerOutcome = { transition: 'opened' | 'closed' | undefined; failures: number };

export type BreakerSnapshot = {
  model: ModelRef;
  state: BreakerState;
  failures: number;
  openedAt: number | undefined;
};

/** The failures that say a model is unwell for everyone; a 429, a bad request or an abort say nothing of the kind. */
const unhealthyKinds: ReadonlySet<LanguageModelErrorKind> = new Set([
  'server',
  'overloaded',
  'timeout',
  'connection',
]);

export function countsAgainstBreaker(kind: LanguageModelErrorKind): boolean {
  return unhealthyKinds.has(kind);
}

/**
 * How stale a worker's copy of a breaker may be: read again after 400 ms (in the background while
 * calls go on) and never used past 900 ms, so a breaker opened anywhere stops every worker's calls
 * within a second.
 */
export const breakerStaleness = { refreshAfterMs: 400, maxAgeMs: 900 };

/**
 * A circuit breaker per `provider:model`, shared by the whole fleet through Redis and changed only by
 * Lua scripts: N workers stop calling a failing model together instead of each learning it on its own.
 * A closed breaker lets a call through with no round trip: each worker reads the state into a copy of
 * bounded staleness (`breakerStaleness`); only an open or half-open breaker is asked in Redis, where the
 * one probe is chosen. Successes recorded in the same turn of the event loop go as one write.
 */
export class CircuitBreaker {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly settings: BreakerSettings;
  /** Models this process has already listed in the breakers set (the set lives in its own slot). */
  readonly #listed = new Set<ModelRef>();
  readonly #states: BoundedStalenessCache<BreakerState>;
  /** Successes waiting for the end of this turn, by model: one write records them all. */
  readonly #successes = new Map<ModelRef, Promise<BreakerOutcome>>();

  constructor(redis: RedisConnection, keys: KeySchema, settings: BreakerSettings) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.settings = settings;
    this.#states = new BoundedStalenessCache(async (model) => {
      const [state] = await Promise.all([
        this.#redis.hget(this.#keys.breaker(model), 'state'),
        this.#list(model),
      ]);
      return (state as BreakerState | null) ?? 'closed';
    }, breakerStaleness);
  }

  async acquire(model: ModelRef): Promise<BreakerDecision> {
    if ((await this.#states.get(model)) === 'closed') return { allowed: true, state: 'closed' };
    const [allowed, state, retryInMs] = await this.#redis.plainloopBreakerAcquire(
      this.#keys.breaker(model),
      String(this.settings.cooldownMs),
      String(this.settings.probeLeaseMs),
    );
    this.#states.set(model, state);
    return allowed === 1 ? { allowed: true, state } : { allowed: false, state, retryInMs };
  }

  /**
   * Resets the consecutive failures (and closes a half-open breaker). Always written, never skipped on
   * the strength of the copy: failures other workers recorded during this call must be reset too.
   */
  recordSuccess(model: ModelRef): Promise<BreakerOutcome> {
    const known = this.#successes.get(model);
    if (known) return known;
    const recorded = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.#successes.delete(model);
      return this.#record(model, 'success');
    });
    this.#successes.set(model, recorded);
    return recorded;
  }

  recordFailure(model: ModelRef): Promise<BreakerOutcome> {
    return this.#record(model, 'failure');
  }

  /** Gives the probe back when it ended saying nothing of the model's health (aborted, not admitted). */
  async releaseProbe(model: ModelRef): Promise<void> {
    await this.#redis.plainloopBreakerRelease(this.#keys.breaker(model));
  }

  /** Lists the model among those the fleet has called, once per process (read() finds them there). */
  async #list(model: ModelRef): Promise<void> {
    if (this.#listed.has(model)) return;
    await this.#redis.sadd(this.#keys.breakers, model);
    this.#listed.add(model);
  }

  async #record(model: ModelRef, outcome: 'success' | 'failure'): Promise<BreakerOutcome> {
    await this.#list(model);
    const [transition, failures] = await this.#redis.plainloopBreakerRecord(
      this.#keys.breaker(model),
      outcome,
      String(this.settings.failureThreshold),
    );
    if (transition === 'opened') this.#states.set(model, 'open');
    else if (outcome === 'success') this.#states.set(model, 'closed');
    return { transition: transition === '' ? undefined : transition, failures };
  }

  /** Every model's breaker as it stands, for the API, the CLI and the metrics process. */
  async read(): Promise<BreakerSnapshot[]> {
    const models = (await this.#redis.smembers(this.#keys.breakers)).sort();
    const replies = await pipelinePerSlot(
      this.#redis,
      models.map((model) => this.#keys.breaker(model)),
      (reads, key) => reads.hgetall(key),
    );
    return models.map((model, index) => {
      const fields = (replies[index]?.[1] ?? {}) as Record<string, string>;
      return {
        model,
        state: (fields.state as BreakerState | undefined) ?? 'closed',
        failures: Number(fields.failures ?? 0),
        openedAt: fields.openedAt === undefined ? undefined : Number(fields.openedAt),
      };
    });
  }
}
