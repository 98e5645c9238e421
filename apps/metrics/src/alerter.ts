import type { TenantBudget } from '@plainloop/agent';
import {
  type KeySchema,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import { type Logger, readTenantCostsOfDay, tenantCostField, utcDayOf } from '@plainloop/telemetry';
import {
  type AlertSettings,
  type AlertVerdict,
  budgetBurnAlertPrefix,
  evaluateAlertRules,
  evaluateBudgetBurn,
  type WindowTotals,
} from './alert-rules.ts';
import type { WindowCount } from './event-increments.ts';
import { sendTelegramMessage, type TelegramSettings } from './telegram-notifier.ts';

/** An alert's state, kept in Redis so a restarted metrics process neither repeats nor forgets it. */
type AlertState = { firing: boolean; since: number; summary: string; notified: boolean };

export type AlerterOptions = {
  redis: RedisConnection;
  keys: KeySchema;
  settings: AlertSettings;
  /** The tenants' daily budgets and their ledger, the same the workers stop runs by. */
  budgets: TenantBudget;
  /** Tenants with a budget of their own (the `*` entry left out). */
  budgetedTenants: readonly string[];
  /** Width of one window bucket, in seconds (as the event increments use). */
  bucketSeconds: number;
  /** Where to send; without it alerts are evaluated, logged and exported, not sent. */
  telegram: TelegramSettings | undefined;
  /** This process's name, to hold the lease that makes it the one replica that sends alerts. */
  holder: string;
  logger: Logger;
  now?: () => number;
};

const windowCounts: readonly WindowCount[] = ['runs', 'runs_failed', 'llm', 'llm_failed', 'cost_usd'];
/** A day's tenant costs are kept this long, for `GET /v1/cost?day=`. */
const tenantCostDays = 7;

/**
 * Evaluates the alert rules over the sliding window and the tenants' budgets, and tells Telegram when
 * an alert starts firing and when it resolves: once each. The state lives in Redis; one replica at a
 * time (a lease) evaluates, so two metrics processes do not both send. A message Telegram did not take
 * is sent again at the next evaluation; a resolution of an alert nobody was told about is not sent.
 */
export class Alerter {
  readonly #options: AlerterOptions;
  readonly #redis: ScriptedRedis;
  readonly #now: () => number;
  /** Evaluations this process made (as lease holder), for tests and logs. */
  evaluations = 0;

  constructor(options: AlerterOptions) {
    this.#options = options;
    this.#redis = withPlainloopScripts(options.redis);
    this.#now = options.now ?? Date.now;
  }

  /** The window's totals now, dropping buckets that slid out of it. */
  async windowTotals(): Promise<WindowTotals> {
    const { keys, settings, bucketSeconds } = this.#options;
    const nowSeconds = this.#now() / 1000;
    // A bucket counts while any of it is inside the window: the window slides by one bucket at a time.
    const oldest = nowSeconds - settings.windowSeconds - bucketSeconds;
    const totals = Object.fromEntries(windowCounts.map((count) => [count, 0])) as WindowTotals;
    // Each shard's window, added up; the metrics process is their only writer.
    for (const { window } of keys.metricsAggregates) {
      const fields = await this.#redis.hgetall(window);
      const expired: string[] = [];
      for (const [field, value] of Object.entries(fields)) {
        const [bucket, count] = field.split('|') as [string, WindowCount];
        if (Number(bucket) <= oldest) expired.push(field);
        else if (count in totals) totals[count] += Number(value);
      }
      if (expired.length > 0) await this.#redis.hdel(window, ...expired);
    }
    return totals;
  }

  /** Spend of each tenant with a budget today, from the budget's own ledger (what stops runs). */
  async #budgetSpend(alerted: readonly string[]): Promise<Map<string, number>> {
    const { redis, keys, budgets, budgetedTenants } = this.#options;
    const today = utcDayOf(this.#now());
    // Tenants under `*` have no entry of their own: those that spent today are the ones to judge.
    const spenders =
      budgets.limitOf('*') === undefined ? [] : (await readTenantCostsOfDay(redis, keys, today)).keys();
    const spend = new Map<string, number>();
    for (const tenantId of new Set([...budgetedTenants, ...spenders, ...alerted])) {
      if (budgets.limitOf(tenantId) !== undefined) spend.set(tenantId, await budgets.spent(tenantId, today));
    }
    return spend;
  }

  /** Drops tenant costs older than `tenantCostDays`; the metrics process is their only writer. */
  async #dropOldTenantCosts(): Promise<void> {
    const { keys } = this.#options;
    const oldest = tenantCostField(utcDayOf(this.#now() - tenantCostDays * 24 * 3600_000), '');
    for (const { tenantCost } of keys.metricsAggregates) {
      const fields = await this.#redis.hkeys(tenantCost);
      const expired = fields.filter((field) => field < oldest);
      if (expired.length > 0) await this.#redis.hdel(tenantCost, ...expired);
    }
  }

  /** One evaluation, if this process holds the alerter lease (taken for three evaluation periods). */
  async evaluate(): Promise<void> {
    const { keys, settings, budgets, holder } = this.#options;
    const leaseMs = Math.max(3 * settings.evaluateMs, 5_000);
    if ((await this.#redis.plainloopLeaseHold(keys.metrics.alerterLease, holder, String(leaseMs))) !== 1)
      return;
    const stored = await this.#redis.hgetall(keys.metrics.alerts);
    const alerted = Object.keys(stored)
      .filter((alert) => alert.startsWith(budgetBurnAlertPrefix))
      .map((alert) => alert.slice(budgetBurnAlertPrefix.length));
    const verdicts = [
      ...evaluateAlertRules(await this.windowTotals(), settings),
      ...evaluateBudgetBurn(
        await this.#budgetSpend(alerted),
        (tenantId) => budgets.limitOf(tenantId),
        settings.budgetBurnRatio,
      ),
    ];
    // An alert whose rule no longer applies (turned off, the tenant's budget removed) resolves.
    const judged = new Set(verdicts.map((verdict) => verdict.alert));
    for (const alert of Object.keys(stored)) {
      if (!judged.has(alert))
        verdicts.push({
          alert,
          firing: false,
          summary: 'its rule no longer applies (turned off, or the budget removed)',
        });
    }
    for (const verdict of verdicts) {
      const json = stored[verdict.alert];
      await this.#advance(verdict, json === undefined ? undefined : (JSON.parse(json) as AlertState));
    }
    await this.#dropOldTenantCosts();
    this.evaluations += 1;
  }

  /** Moves one alert's state on by its verdict, telling Telegram about each change once. */
  async #advance(verdict: AlertVerdict, previous: AlertState | undefined): Promise<void> {
    const { keys, logger } = this.#options;
    // Per-tenant alerts are kept only while they matter, so quiet tenants add no state and no series.
    const perTenant = verdict.alert.startsWith(budgetBurnAlertPrefix);
    const quiet = async () => {
      if (perTenant) await this.#redis.hdel(keys.metrics.alerts, verdict.alert);
      else {
        const state: AlertState = {
          firing: false,
          since: this.#now(),
          summary: verdict.summary,
          notified: true,
        };
        await this.#redis.hset(keys.metrics.alerts, verdict.alert, JSON.stringify(state));
      }
    };
    const wasFiring = previous?.firing ?? false;
    if (!verdict.firing && !wasFiring) {
      if (previous === undefined) await quiet();
      // A resolution Telegram did not take yet: send it again.
      else if (!previous.notified) await this.#send(verdict.alert, previous, quiet);
      return;
    }
    if (!verdict.firing && previous?.notified === false) {
      // It fired and resolved before anyone was told: telling only the resolution would be noise.
      await quiet();
      return;
    }
    if (wasFiring === verdict.firing) {
      // Still firing: send again only what Telegram did not take.
      if (previous && !previous.notified) await this.#send(verdict.alert, previous, quiet);
      return;
    }
    const state: AlertState = {
      firing: verdict.firing,
      since: this.#now(),
      summary: verdict.summary,
      notified: false,
    };
    await this.#redis.hset(keys.metrics.alerts, verdict.alert, JSON.stringify(state));
    const log = verdict.firing ? logger.warn : logger.info;
    log.call(logger, { alert: verdict.alert, firing: verdict.firing }, verdict.summary);
    await this.#send(verdict.alert, state, quiet);
  }

  /** Tells Telegram; once it took the message, a resolved alert goes quiet and a firing one is marked told. */
  async #send(alert: string, state: AlertState, quiet: () => Promise<void>): Promise<void> {
    if (!(await this.#notify(alert, state))) return;
    if (!state.firing) await quiet();
    else
      await this.#redis.hset(
        this.#options.keys.metrics.alerts,
        alert,
        JSON.stringify({ ...state, notified: true }),
      );
  }

  /** True once Telegram took the message (or there is no Telegram to tell). */
  async #notify(alert: string, state: AlertState): Promise<boolean> {
    const { telegram, logger } = this.#options;
    if (telegram === undefined) return true;
    const text = state.firing
      ? `🔥 FIRING ${alert}\n${state.summary}`
      : `✅ RESOLVED ${alert}\n${state.summary}`;
    try {
      await sendTelegramMessage(telegram, text);
      logger.info({ alert, firing: state.firing }, 'alert sent to Telegram');
      return true;
    } catch (error) {
      logger.warn(
        { err: error, alert },
        'could not send the alert to Telegram; trying again at the next evaluation',
      );
      return false;
    }
  }
}
