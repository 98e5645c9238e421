import {
  type KeySchema,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import { utcDayOf } from '@plainloop/telemetry';

/** Budgets are kept in integer nano-dollars in Redis, so sums of tiny costs do not drift. */
const nanoPerUsd = 1_000_000_000;
const toNano = (usd: number) => Math.ceil(usd * nanoPerUsd);
const toUsd = (nano: number) => nano / nanoPerUsd;

/** Keep a day's keys two days: long enough for the API to show yesterday, short enough to stay small. */
const keepSeconds = 2 * 24 * 3600;

export type TenantBudgetLimits = {
  /** Daily USD limit by tenant; `*` applies to tenants not listed. No entry, no limit. */
  dailyUsd: Readonly<Record<string, number>>;
  /** A reservation no worker settles (it died mid-call) stops counting after this. */
  reservationLeaseMs: number;
};

export type SpendReservation = { tenantId: string; day: string; callId: string; nano: number };

export type SpendDecision =
  | { reserved: true; reservation: SpendReservation | undefined }
  | { reserved: false; limitUsd: number; spentUsd: number; inFlightUsd: number };

/**
 * A tenant's daily USD budget, shared by the whole fleet: each model call reserves its estimated cost
 * before it is made and settles the real cost after, keyed by call id so a replay never counts twice.
 */
export class TenantBudget {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #limits: TenantBudgetLimits;

  constructor(redis: RedisConnection, keys: KeySchema, limits: TenantBudgetLimits) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.#limits = limits;
  }

  limitOf(tenantId: string): number | undefined {
    return this.#limits.dailyUsd[tenantId] ?? this.#limits.dailyUsd['*'];
  }

  async reserve(tenantId: string, callId: string, estimatedUsd: number, now: number): Promise<SpendDecision> {
    const limit = this.limitOf(tenantId);
    if (limit === undefined) return { reserved: true, reservation: undefined };
    const day = utcDayOf(now);
    const keys = this.#keys.tenantSpend(tenantId, day);
    const nano = toNano(estimatedUsd);
    const [reserved, spent, inFlight] = await this.#redis.plainloopSpendReserve(
      keys.totals,
      keys.reservations,
      String(toNano(limit)),
      callId,
      String(nano),
      String(this.#limits.reservationLeaseMs),
      String(keepSeconds),
    );
    if (reserved === 1) return { reserved: true, reservation: { tenantId, day, callId, nano } };
    return { reserved: false, limitUsd: limit, spentUsd: toUsd(spent), inFlightUsd: toUsd(inFlight) };
  }

  async settle(reservation: SpendReservation, costUsd: number): Promise<void> {
    const keys = this.#keys.tenantSpend(reservation.tenantId, reservation.day);
    await this.#redis.plainloopSpendSettle(
      keys.totals,
      keys.reservations,
      keys.ledger,
      reservation.callId,
      String(reservation.nano),
      String(toNano(costUsd)),
      String(keepSeconds),
    );
  }

  /** What a tenant spent on a day, in USD. */
  async spent(tenantId: string, day: string): Promise<number> {
    const stored = await this.#redis.hget(this.#keys.tenantSpend(tenantId, day).totals, 'spent');
    return toUsd(Number(stored ?? 0));
  }
}
