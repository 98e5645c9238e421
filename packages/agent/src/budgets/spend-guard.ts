import { type AgentLimits, modelRefOf, totalTokens } from '@plainloop/contracts';
import type { SpendGuard } from '@plainloop/llm';
import { BudgetExceededError } from '../errors/budget-exceeded-error.ts';
import type { RunSession } from '../run-session.ts';
import type { SpendReservation } from './tenant-budget.ts';

const usd = (amount: number) => `$${amount.toFixed(6)}`;

/**
 * The budgets of one run, checked before each model call with the call's estimated usage: the run's
 * token and USD limits, then the tenant's daily budget (reserved in Redis, shared by the fleet). A call
 * that would go over is not made. Budgets fail closed: a model with no known price cannot be checked
 * against a USD budget, so it is refused when one applies.
 */
export function createSpendGuard(session: RunSession, limits: AgentLimits): SpendGuard {
  const reservations = new Map<string, SpendReservation>();
  const { prices, budgets } = {
    prices: session.environment.models.prices,
    budgets: session.environment.budgets,
  };

  return {
    async reserve({ callId, model, estimate }) {
      const state = session.state;
      const pricedAs = model.pricedAs ?? modelRefOf(model);
      const quote = prices.quote(pricedAs, estimate);
      if (limits.maxTokens !== undefined) {
        const spent = totalTokens(state.usage);
        const requested = totalTokens(estimate);
        if (spent + requested > limits.maxTokens) {
          throw new BudgetExceededError(
            `the next model call (about ${requested} tokens) would take the run past its ${limits.maxTokens}-token limit (${spent} used)`,
            { budget: 'run_tokens', limit: limits.maxTokens, spent, requested },
          );
        }
      }
      const tenantLimit = budgets.limitOf(state.tenantId);
      if ((limits.maxCostUsd !== undefined || tenantLimit !== undefined) && !quote.known) {
        const limit = limits.maxCostUsd ?? tenantLimit ?? 0;
        throw new BudgetExceededError(
          `${pricedAs} has no known price, so the call cannot be checked against the ${usd(limit)} budget (add it with PLAINLOOP_PRICES_FILE)`,
          {
            budget: limits.maxCostUsd !== undefined ? 'run_cost_usd' : 'tenant_daily_usd',
            limit,
            spent: state.costUsd,
          },
        );
      }
      if (limits.maxCostUsd !== undefined && state.costUsd + quote.costUsd > limits.maxCostUsd) {
        throw new BudgetExceededError(
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
        throw new BudgetExceededError(
          `tenant ${state.tenantId} has spent ${usd(decision.spentUsd)} of its ${usd(decision.limitUsd)} daily budget (${usd(decision.inFlightUsd)} more in flight); the next call would go over`,
          {
            budget: 'tenant_daily_usd',
            limit: decision.limitUsd,
            spent: decision.spentUsd + decision.inFlightUsd,
            requested: quote.costUsd,
          },
        );
      }
      if (decision.reservation) reservations.set(callId, decision.reservation);
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
