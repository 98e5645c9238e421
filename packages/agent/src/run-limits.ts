import {
  type AgentLimits,
  type BudgetDetail,
  type RunLimits,
  type RunState,
  type StructuredError,
  totalTokens,
} from '@plainloop/contracts';

/** A producer's limits can only tighten the agent's. */
export function effectiveLimits(agent: AgentLimits, requested: RunLimits | undefined): AgentLimits {
  const tighter = (left: number | undefined, right: number | undefined) =>
    left === undefined ? right : right === undefined ? left : Math.min(left, right);
  const maxCostUsd = tighter(agent.maxCostUsd, requested?.maxCostUsd);
  const maxTokens = tighter(agent.maxTokens, requested?.maxTokens);
  return {
    maxIterations: tighter(agent.maxIterations, requested?.maxIterations) ?? agent.maxIterations,
    ...(maxCostUsd === undefined ? {} : { maxCostUsd }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
  };
}

export type LimitStop = {
  status: 'max_iterations' | 'budget_exceeded';
  error: StructuredError;
  budget?: BudgetDetail;
};

/**
 * The stop conditions checked before every step: a plain function of the run and its limits. A hit
 * limit ends the run in a named status, never silently. These look at what was already spent; the
 * spend guard (budgets/spend-guard.ts) then checks the next call's estimate before it is made.
 */
export function checkLimits(
  state: Pick<RunState, 'step' | 'forkedFrom' | 'costUsd' | 'usage'>,
  limits: AgentLimits,
): LimitStop | undefined {
  // A fork's limits count its own work: the steps it replayed cost it nothing, like their tokens.
  if (state.step - (state.forkedFrom?.step ?? 0) >= limits.maxIterations) {
    return {
      status: 'max_iterations',
      error: {
        code: 'max_iterations',
        message: `the agent gave no final answer within ${limits.maxIterations} iterations`,
        retryable: false,
      },
    };
  }
  if (limits.maxCostUsd !== undefined && state.costUsd >= limits.maxCostUsd) {
    return budgetStop(
      'run_cost_usd',
      limits.maxCostUsd,
      state.costUsd,
      `the run spent $${state.costUsd.toFixed(6)}`,
    );
  }
  const tokens = totalTokens(state.usage);
  if (limits.maxTokens !== undefined && tokens >= limits.maxTokens) {
    return budgetStop('run_tokens', limits.maxTokens, tokens, `the run used ${tokens} tokens`);
  }
  return undefined;
}

function budgetStop(
  budget: 'run_cost_usd' | 'run_tokens',
  limit: number,
  spent: number,
  what: string,
): LimitStop {
  return {
    status: 'budget_exceeded',
    error: { code: 'budget_exceeded', message: `${what}, over its limit of ${limit}`, retryable: false },
    budget: { budget, limit, spent },
  };
}
