import type { KeySchema, Redis } from '@plainloop/redis';
import { type Logger, utcDayOf } from '@plainloop/telemetry';
import {
  type AlertSettings,
  budgetBurnAlert,
  evaluateAlertRules,
  evaluateBudgetBurn,
  type WindowTotals,
} from './alert-rules.ts';
import type { WindowCount } from './event-increments.ts';
import { sendTelegramMessage, type TelegramSettings } from './telegram-notifier.ts';

/** An alert's state, kept in Redis so a restarted metrics process neither repeats nor forgets it. */
type AlertState = { firing: boolean; since: number; summary: string; notified: boolean };

export type AlerterOptions = {
  redis: Redis;
  keys: KeySchema;
  settings: AlertSettings;
  /** Daily USD budgets by tenant (`*` for the rest), as the workers enforce them. */
  dailyBudgets: Readonly<Record<string, number>>;
  /** Width of one window bucket, in seconds (as the event increments use). */
  bucketSeconds: number;
  /** Where to send; without it alerts are evaluated, logged and exported, not sent. */
  telegram: TelegramSettings | undefined;
  logger: Logger;
  now?: () => number;
};

const windowCounts: readonly WindowCount[] = ['runs', 'runs_failed', 'llm', 'llm_failed', 'cost_usd'];

/**
 * Evaluates the alert rules over the sliding window and tells Telegram when an alert starts firing and
 * when it resolves: once each (the state and whether it was sent live in Redis). A message Telegram
 * did not take is sent again at the next evaluation, not lost.
 */
export class Alerter {
  readonly #options: AlerterOptions;
  readonly #now: () => number;

  constructor(options: AlerterOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The window's totals now, dropping buckets that slid out of it. */
  async windowTotals(): Promise<WindowTotals> {
    const { redis, keys, settings, bucketSeconds } = this.#options;
    const nowSeconds = this.#now() / 1000;
    // A bucket counts while any of it is inside the window: the window slides by one bucket at a time.
    const oldest = nowSeconds - settings.windowSeconds - bucketSeconds;
    const fields = await redis.hgetall(keys.metrics.window);
    const totals = Object.fromEntries(windowCounts.map((count) => [count, 0])) as WindowTotals;
    const expired: string[] = [];
    for (const [field, value] of Object.entries(fields)) {
      const [bucket, count] = field.split('|') as [string, WindowCount];
      if (Number(bucket) <= oldest) expired.push(field);
      else if (count in totals) totals[count] += Number(value);
    }
    if (expired.length > 0) await redis.hdel(keys.metrics.window, ...expired);
    return totals;
  }

  /** What each tenant's model calls cost today, dropping days older than a week. */
  async costToday(): Promise<Map<string, number>> {
    const { redis, keys } = this.#options;
    const today = utcDayOf(this.#now());
    const weekAgo = utcDayOf(this.#now() - 7 * 24 * 3600_000);
    const costs = new Map<string, number>();
    const expired: string[] = [];
    for (const [field, value] of Object.entries(await redis.hgetall(keys.metrics.tenantCost))) {
      const separator = field.indexOf('|');
      const day = field.slice(0, separator);
      if (day === today) costs.set(field.slice(separator + 1), Number(value));
      else if (day < weekAgo) expired.push(field);
    }
    if (expired.length > 0) await redis.hdel(keys.metrics.tenantCost, ...expired);
    return costs;
  }

  async evaluate(): Promise<void> {
    const { redis, keys, logger, settings, dailyBudgets } = this.#options;
    const stored = await redis.hgetall(keys.metrics.alerts);
    const costs = await this.costToday();
    const alertedTenants = Object.keys(stored)
      .filter((alert) => alert.startsWith(budgetBurnAlert('')))
      .map((alert) => alert.slice(budgetBurnAlert('').length));
    const verdicts = [
      ...evaluateAlertRules(await this.windowTotals(), settings),
      ...evaluateBudgetBurn(
        [...Object.keys(dailyBudgets), ...costs.keys(), ...alertedTenants],
        costs,
        dailyBudgets,
        settings.budgetBurnRatio,
      ),
    ];
    for (const verdict of verdicts) {
      const previous = stored[verdict.alert]
        ? (JSON.parse(stored[verdict.alert] as string) as AlertState)
        : undefined;
      if (previous === undefined && !verdict.firing) {
        // Quiet from the start: recorded (so /metrics shows the alert at 0), nothing to tell anyone.
        const quiet: AlertState = {
          firing: false,
          since: this.#now(),
          summary: verdict.summary,
          notified: true,
        };
        await redis.hset(keys.metrics.alerts, verdict.alert, JSON.stringify(quiet));
        continue;
      }
      const changed = (previous?.firing ?? false) !== verdict.firing;
      if (!changed && previous?.notified) continue;
      const state: AlertState = changed
        ? { firing: verdict.firing, since: this.#now(), summary: verdict.summary, notified: false }
        : (previous as AlertState);
      if (changed) {
        await redis.hset(keys.metrics.alerts, verdict.alert, JSON.stringify(state));
        const log = verdict.firing ? logger.warn : logger.info;
        log.call(logger, { alert: verdict.alert, firing: verdict.firing }, verdict.summary);
      }
      if (await this.#notify(verdict.alert, state)) {
        await redis.hset(keys.metrics.alerts, verdict.alert, JSON.stringify({ ...state, notified: true }));
      }
    }
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
