import type { AgentLimits, Message, RunState, Tier } from '@plainloop/contracts';
import type { BoundAgent } from './bind-models.ts';
import { finishPlan } from './finish-run.ts';
import { checkLimits } from './run-limits.ts';
import type { PlannedEvent, RunSession, WritePlan } from './run-session.ts';
import { chooseTier } from './tier-policy.ts';

/** The tier the agent's policy (or the default) picks for a step, from the run's transcript. */
export function tierOf(bound: BoundAgent, step: number, turns: readonly Message[]): Tier {
  return (bound.agent.chooseTier ?? chooseTier)({ step, turns });
}

/**
 * The write that completes a step (`advanced` has the step moved on and nothing pending): its turns,
 * the events of its last work, and what comes next, in one checkpoint. When the run's limits stop it
 * there, the write is also its terminal checkpoint; otherwise it announces the next step
 * (`step.started`), so every step is announced exactly once, by the write that makes it the current one.
 */
export function commitPlan(
  session: RunSession,
  bound: BoundAgent,
  limits: AgentLimits,
  advanced: Omit<RunState, 'version'>,
  turns: readonly Message[],
  saved: readonly PlannedEvent[],
): WritePlan {
  // A summary checkpointed but not applied must reach the thread first: that run ends by the loop.
  const stop = advanced.pendingSummary === undefined ? checkLimits(advanced, limits) : undefined;
  if (stop) {
    const plan = finishPlan(
      session.environment,
      advanced,
      { status: stop.status, error: stop.error, ...(stop.budget ? { budget: stop.budget } : {}) },
      saved,
    );
    return { ...plan, options: { ...plan.options, appendTurns: turns } };
  }
  return {
    next: advanced,
    options: { appendTurns: turns },
    events: () => [
      ...saved,
      { type: 'step.started', step: advanced.step, tier: tierOf(bound, advanced.step, session.turns) },
    ],
  };
}
