import { type AgentLimits, type BudgetDetail, modelRefOf, totalTokens } from '@plainloop/contracts';
import type { SpendGuard, SpendRefusal } from '@plainloop/llm';
import { utcDayOf } from '@plainloop/telemetry';
import { BudgetExceededError } from '../errors/budget-exceeded-error.ts';
import type { RunSession } from '../run-session.ts';
import type { SpendReservation } from './tenant-budget.ts';

const usd = (amount: number) => `$${amount.toFixed(6)}`;

/** How soon a call held back by other calls' reservations tries again. */
const inFlightRetryMs = 2_000;

/**
 * The budgets of one run, checked before each model call with the call's estimated usage: the run's
 * token and USD limits, then the tenant's daily budget (reserved in Redis, shared by the fleet). A call
 * that would go over is not made. Budgets fail closed: a model with no known price cannot be checked
 * against a USD budget, so it is refused when one applies.
 */
/** The run's guard, made once per worker's hold on the run (its limits do not change meanwhile). */
const guards = new WeakMap<RunSession, SpendGuard>();
export function spendGuardOf(session: RunSession, limits: AgentLimits): SpendGuard {
  let guard = guards.get(session);
  if (guard === undefined) {
    guard = createSpendGuard(session, limits);
    guards.set(session, guard);
  }
  return guard;
}

export function createSpendGuard(session: RunSession, limits: AgentLimits): SpendGuard {
  const reservations = new Map<string, SpendReservation>();
  const { prices, budgets } = {
    prices: session.environment.models.prices,
    budgets: session.environment.budgets,
  };

  const refuse = (message: string, detail: BudgetDetail): SpendRefusal => ({
    error: new BudgetExceededError(message, detail),
  });

  return {
    async reserve({ callId, model, estimate }) {
      const state = session.state;
      const pricedAs = model.pricedAs ?? modelRefOf(model);
      const quote = prices.quote(pricedAs, estimate);
      if (limits.maxTokens !== undefined) {
        const spent = totalTokens(state.usage);
        const requested = totalTokens(estimate);
        if (spent + requested > limits.maxTokens) {
          return refuse(
            `the next model call (about ${requested} tokens) would take the run past its ${limits.maxTokens}-token limit (${spent} used)`,
            { budget: 'run_tokens', limit: limits.maxTokens, spent, requested },
          );
        }
      }
      const tenantLimit = budgets.limitOf(state.tenantId);
      if ((limits.maxCostUsd !== undefined || tenantLimit !== undefined) && !quote.known) {
        const runBudget = limits.maxCostUsd !== undefined;
        const limit = limits.maxCostUsd ?? tenantLimit ?? 0;
        // Report the spend of the budget that refused: the run's own, or the tenant's today.
        const spent = runBudget
          ? state.costUsd
          : await budgets.spent(state.tenantId, utcDayOf(session.environment.now()));
        return refuse(
          `${pricedAs} has no known price, so the call cannot be checked against the ${usd(limit)} budget (add it with PLAINLOOP_PRICES_FILE)`,
          { budget: runBudget ? 'run_cost_usd' : 'tenant_daily_usd', limit, spent },
        );
      }
      if (limits.maxCostUsd !== undefined && state.costUsd + quote.costUsd > limits.maxCostUsd) {
        return refuse(
          `the next model call (about ${usd(quote.costUsd)}) would take the run past its ${usd(limits.maxCostUsd)} limit (${usd(state.costUsd)} spent)`,
          {
            budget: 'run_cost_usd',
            limit: limits.maxCostUsd,
            spent: state.costUsd,
            requested: quote.costUsd,
          },
        );
      }
      const decision = await budgets.reserve(
        state.tenantId,
        callId,
        quote.costUsd,
        session.environment.now(),
      );
      if (!decision.reserved) {
        const detail: BudgetDetail = {
          budget: 'tenant_daily_usd',
          limit: decision.limitUsd,
          spent: decision.spentUsd + decision.inFlightUsd,
          requested: quote.costUsd,
        };
        // Settled spend leaves room and only other calls' reservations fill it: those settle (or
        // lapse) soon, so the run waits for them rather than failing on money it may never spend.
        if (decision.spentUsd + quote.costUsd <= decision.limitUsd) {
          return {
            error: new BudgetExceededError(
              `tenant ${state.tenantId} has ${usd(decision.inFlightUsd)} in flight against its ${usd(decision.limitUsd)} daily budget; waiting for those calls to settle`,
              detail,
            ),
            retryInMs: inFlightRetryMs,
          };
        }
        return refuse(
          `tenant ${state.tenantId} has spent ${usd(decision.spentUsd)} of its ${usd(decision.limitUsd)} daily budget (${usd(decision.inFlightUsd)} more in flight); the next call would go over`,
          detail,
        );
      }
      if (decision.reservation) reservations.set(callId, decision.reservation);
      return undefined;
    },

    async settle({ callId, model }, usage) {
      const reservation = reservations.get(callId);
      if (reservation === undefined) return;
      reservations.delete(callId);
      const cost = usage ? prices.quote(model.pricedAs ?? modelRefOf(model), usage).costUsd : 0;
      await budgets.settle(reservation, cost);
    },
  };
}
