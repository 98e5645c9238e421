import type { WindowCount } from './event-increments.ts';

/** What the alert window counted over its whole width. */
export type WindowTotals = Record<WindowCount, number>;

export type AlertSettings = {
  windowSeconds: number;
  /** Error rates above this fire (0.05 = 5%). */
  errorRate: number;
  /** Fewer runs or model calls than this in the window: too few to judge, the rate alert stays quiet. */
  minSamples: number;
  /** Spend per hour (projected from the window) above this fires; 0 turns the alert off. */
  costPerHourUsd: number;
  /** A tenant that spent this share of its daily budget today fires its budget alert. */
  budgetBurnRatio: number;
  /** How often the alerts are evaluated. */
  evaluateMs: number;
};

export type AlertVerdict = { alert: string; firing: boolean; summary: string };

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/**
 * The metrics process's alert rules, as a plain function of what the window counted. The same rules
 * are Prometheus alert rules in `ops/prometheus/alerts.yml` (for a deployment that alerts through
 * Alertmanager instead); keep the two in step.
 */
export function evaluateAlertRules(totals: WindowTotals, settings: AlertSettings): AlertVerdict[] {
  const minutes = Math.round(settings.windowSeconds / 60);
  const errorRate = (alert: string, what: string, failed: number, all: number): AlertVerdict => {
    const rate = all === 0 ? 0 : failed / all;
    const firing = all >= settings.minSamples && rate > settings.errorRate;
    return {
      alert,
      firing,
      summary: `${what} error rate ${percent(rate)} over the last ${minutes} min (${failed} of ${all}; alert above ${percent(settings.errorRate)} with at least ${settings.minSamples})`,
    };
  };
  const verdicts = [
    errorRate('PlainloopRunErrorRateHigh', 'run', totals.runs_failed, totals.runs),
    errorRate('PlainloopLlmErrorRateHigh', 'model call', totals.llm_failed, totals.llm),
  ];
  if (settings.costPerHourUsd > 0) {
    const perHour = (totals.cost_usd * 3600) / settings.windowSeconds;
    verdicts.push({
      alert: 'PlainloopCostBurnHigh',
      firing: perHour > settings.costPerHourUsd,
      summary: `spend at $${perHour.toFixed(2)}/hour over the last ${minutes} min (alert above $${settings.costPerHourUsd.toFixed(2)}/hour)`,
    });
  }
  return verdicts;
}

/** Alerts about one tenant's daily budget are named this, then the tenant: each fires on its own. */
export const budgetBurnAlertPrefix = 'PlainloopTenantBudgetBurn:';

/**
 * Tenants near the end of their daily budget: spent at least `ratio` of it today (by the budget's own
 * ledger, the one that stops runs). Runs stop at the budget anyway (`budget_exceeded`); this warns
 * first, while there is still time to raise it.
 */
export function evaluateBudgetBurn(
  spentToday: ReadonlyMap<string, number>,
  limitOf: (tenantId: string) => number | undefined,
  ratio: number,
): AlertVerdict[] {
  const verdicts: AlertVerdict[] = [];
  for (const [tenantId, spent] of spentToday) {
    const limit = limitOf(tenantId);
    if (limit === undefined) continue;
    verdicts.push({
      alert: `${budgetBurnAlertPrefix}${tenantId}`,
      firing: spent / limit >= ratio,
      summary: `tenant ${tenantId} has spent $${spent.toFixed(2)} of its $${limit.toFixed(2)} daily budget today (${percent(spent / limit)}; alert at ${percent(ratio)})`,
    });
  }
  return verdicts;
}
