import type { LanguageModelErrorKind, ModelRef } from '@plainloop/contracts';
import { type KeySchema, type Redis, type ScriptedRedis, withPlainloopScripts } from '@plainloop/redis';

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
 * A circuit breaker per `provider:model`, shared by the whole fleet through Redis and changed only by
 * Lua scripts, so every worker sees the same state the moment it changes: N workers stop calling a
 * failing model together instead of each learning it on its own.
 */
export class CircuitBreaker {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly settings: BreakerSettings;
  /** Models this process has already listed in the breakers set (the set lives in its own slot). */
  readonly #listed = new Set<ModelRef>();

  constructor(redis: Redis, keys: KeySchema, settings: BreakerSettings) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.settings = settings;
  }

  async acquire(model: ModelRef): Promise<BreakerDecision> {
    const [[allowed, state, retryInMs]] = await Promise.all([
      this.#redis.plainloopBreakerAcquire(
        this.#keys.breaker(model),
        String(this.settings.cooldownMs),
        String(this.settings.probeLeaseMs),
      ),
      this.#list(model),
    ]);
    return allowed === 1 ? { allowed: true, state } : { allowed: false, state, retryInMs };
  }

  recordSuccess(model: ModelRef): Promise<BreakerOutcome> {
    return this.#record(model, 'success');
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
    return { transition: transition === '' ? undefined : transition, failures };
  }

  /** Every model's breaker as it stands, for the API, the CLI and the metrics process. */
  async read(): Promise<BreakerSnapshot[]> {
    const models = (await this.#redis.smembers(this.#keys.breakers)).sort();
    const pipeline = this.#redis.pipeline();
    for (const model of models) pipeline.hgetall(this.#keys.breaker(model));
    const replies = (await pipeline.exec()) ?? [];
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
