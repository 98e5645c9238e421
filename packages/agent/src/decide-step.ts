import type { AgentLimits, PendingStep, ToolCall } from '@plainloop/contracts';
import { routeCall } from '@plainloop/llm';
import { ContextOverflowError } from '@plainloop/memory';
import { accountForCall } from './account-for-call.ts';
import type { BoundAgent } from './bind-models.ts';
import { spendGuardOf } from './budgets/spend-guard.ts';
import { tierOf } from './commit-step.ts';
import { BudgetExceededError } from './errors/budget-exceeded-error.ts';
import { finishRun } from './finish-run.ts';
import { workingContext } from './memory/working-context.ts';
import { reportRouterEvent } from './report-router-event.ts';
import type { RunSession } from './run-session.ts';
import { validateCall } from './tool-breaker.ts';

/** Models occasionally repeat a tool call id; results are keyed by id, so each call needs its own. */
function withUniqueIds(toolCalls: readonly ToolCall[]): ToolCall[] {
  const seen = new Set<string>();
  return toolCalls.map((call, index) => {
    const id = seen.has(call.id) ? `${call.id}_${index}` : call.id;
    seen.add(id);
    return { ...call, id };
  });
}

/**
 * The decide phase: build the context, choose the tier, and route the call through the tier's chain
 * (breakers, admission, retries, fallback). The answer, its usage and its cost are checkpointed before
 * any tool runs, so a crash after this point never pays for the call again; invalid tool calls get their
 * structured error in the same write (validation is pure, so a resumed step reaches the same verdict).
 * When no model can take the call now, the run is checkpointed as waiting until one can.
 */
export async function decideStep(session: RunSession, bound: BoundAgent, limits: AgentLimits): Promise<void> {
  const { state, turns, environment } = session;
  // The step was announced (`step.started`) by the write that made it the current one.
  const tier = tierOf(bound, state.step, turns);

  let outcome: Awaited<ReturnType<typeof routeCall>>;
  try {
    const context = await workingContext(session, bound, limits);
    outcome = await routeCall(
      bound.models[tier],
      {
        ...context,
        timeoutMs: environment.settings.modelTimeoutMs,
        signal: session.signal,
      },
      {
        breaker: environment.models.breaker,
        admission: environment.models.admission,
        settings: environment.models.retry,
        spendGuard: spendGuardOf(session, limits),
        onEvent: (event) => reportRouterEvent(session, tier, event),
      },
    );
  } catch (error) {
    if (session.signal.aborted) return;
    if (error instanceof BudgetExceededError) {
      await finishRun(session, {
        status: 'budget_exceeded',
        error: error.toStructured(),
        budget: error.detail,
      });
      return;
    }
    if (error instanceof ContextOverflowError) {
      await finishRun(session, { status: 'failed', error: error.toStructured() });
      return;
    }
    throw error;
  }

  if (outcome.kind === 'failed') {
    await finishRun(session, { status: 'failed', error: outcome.error.toStructured() });
    return;
  }
  if (outcome.kind === 'wait') {
    const now = environment.now();
    const since = state.waitingSince ?? now;
    if (now + outcome.retryInMs - since > environment.models.maxStepWaitMs) {
      const minutes = Math.round(environment.models.maxStepWaitMs / 60_000);
      const message = `no model of the ${tier} tier could take the call within ${minutes} min (last reason: ${outcome.reason})`;
      await finishRun(session, {
        status: 'failed',
        error: { code: 'llm_unavailable', message, retryable: true },
      });
      return;
    }
    const until = now + outcome.retryInMs;
    await session.update(
      (current) => ({ ...current, status: 'waiting', waitingUntil: until, waitingSince: since }),
      {},
      [{ type: 'run.waiting', step: state.step, until, reason: outcome.reason }],
    );
    return;
  }

  const { result, latencyMs, callId } = outcome;
  const toolCalls = withUniqueIds(result.toolCalls);
  const call = accountForCall(session, outcome, tier, toolCalls);
  const invalidCalls = toolCalls
    .map((toolCall) => validateCall(state, bound.agent.tools, toolCall))
    .filter((validated) => !validated.ok);
  const pending: PendingStep = {
    tier,
    model: call.modelRef,
    callId,
    result: { ...result, toolCalls },
    costUsd: call.price.costUsd,
    latencyMs,
    toolResults: Object.fromEntries(
      invalidCalls.map(({ call: invalid, error }) => [invalid.id, { ok: false as const, error }]),
    ),
    startedCalls: {},
    approvals: {},
  };
  // The router's bookkeeping of the call (breaker, admission, budgets) goes to Redis beside this write.
  await Promise.all([
    session.update(
      ({ waitingSince: _since, waitingUntil: _until, ...current }) => ({
        ...call.addTotals(current),
        pending,
      }),
      { modelCall: call.record },
      [
        call.event,
        ...invalidCalls.map(({ call: invalid, error }) => ({
          type: 'tool.failed' as const,
          step: state.step,
          tool: invalid.name,
          callId: invalid.id,
          error,
          latencyMs: 0,
        })),
      ],
    ),
    outcome.bookkeeping,
  ]);
}
