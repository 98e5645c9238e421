import type { AgentLimits } from '@plainloop/contracts';
import { routeCall } from '@plainloop/llm';
import {
  parseSummaryAnswer,
  type SummaryPlan,
  summaryAnswerSchema,
  summaryMessages,
  type ThreadMemory,
} from '@plainloop/memory';
import { accountForCall } from '../account-for-call.ts';
import type { BoundAgent } from '../bind-models.ts';
import { createSpendGuard } from '../budgets/spend-guard.ts';
import { reportRouterEvent } from '../report-router-event.ts';
import type { RunSession } from '../run-session.ts';
import { recallScopeOf } from './recall-scope.ts';

/** The text of each folded exchange, for semantic memory: what the user asked and what was answered. */
function foldedExchanges(plan: SummaryPlan): string[] {
  const exchanges: string[] = [];
  for (const message of plan.fold) {
    if (message.role === 'user') exchanges.push(`user: ${message.content}`);
    else if (message.role === 'assistant' && message.content && exchanges.length > 0) {
      exchanges[exchanges.length - 1] += `\nassistant: ${message.content}`;
    }
  }
  return exchanges;
}

/**
 * The summary step: the execute tier folds the thread's oldest recent turns into its rolling summary
 * and names the facts it found. Like any model call it goes through the router and the run's budgets,
 * and its answer, usage and cost are checkpointed (with a ledger entry) before anything is applied, so
 * a crash after the call applies the saved summary on resume instead of paying for another. Returns
 * false when no model could take the call now: the step goes on without a new summary.
 */
export async function summarizeThread(
  session: RunSession,
  bound: BoundAgent,
  limits: AgentLimits,
  memory: ThreadMemory,
  plan: SummaryPlan,
): Promise<boolean> {
  const { environment } = session;
  const outcome = await routeCall(
    bound.models.execute,
    {
      messages: summaryMessages(memory.summary, memory.facts, plan.fold),
      tools: [],
      responseSchema: { name: 'thread_summary', schema: summaryAnswerSchema },
      timeoutMs: environment.settings.modelTimeoutMs,
      signal: session.signal,
    },
    {
      breaker: environment.models.breaker,
      admission: environment.models.admission,
      settings: environment.models.retry,
      spendGuard: createSpendGuard(session, limits),
      onEvent: (event) => reportRouterEvent(session, 'execute', event),
    },
  );
  if (outcome.kind !== 'answered') {
    session.logger.warn(
      { outcome: outcome.kind },
      'could not summarize the thread now; the oldest turns give way instead',
    );
    return false;
  }
  const { result, callId } = outcome;
  const call = accountForCall(session, outcome, 'execute', []);
  // A summarizer that did not answer in JSON still summarized: its text is the summary.
  const answer = parseSummaryAnswer(result.text) ?? { summary: result.text.trim(), facts: [] };
  const pendingSummary = {
    callId,
    through: plan.through,
    summary: answer.summary,
    facts: answer.facts,
    folded: foldedExchanges(plan),
  };
  await Promise.all([
    session.update(
      (current) => ({ ...call.addTotals(current), pendingSummary }),
      { modelCall: call.record },
      [call.event],
    ),
    outcome.bookkeeping,
  ]);
  await applyPendingSummary(session, bound);
  return true;
}

/**
 * Applies a checkpointed summary: the folded exchanges go to semantic memory (when the agent recalls;
 * stored by id, so again is harmless), the summary and facts to the thread (it only ever moves forward),
 * then the checkpoint clears it. A crash anywhere in between repeats this on resume, never the call.
 */
export async function applyPendingSummary(session: RunSession, bound?: BoundAgent): Promise<void> {
  const { environment, state } = session;
  const pending = state.pendingSummary;
  if (pending === undefined || state.threadId === undefined) return;
  const thread = { tenantId: state.tenantId, threadId: state.threadId };
  const scope = bound === undefined ? undefined : recallScopeOf(bound, state);
  if (scope && environment.semantic) {
    const items = pending.folded.map((text, index) => ({
      id: `${state.threadId}:${pending.through}:${index}`,
      text,
      metadata: { threadId: thread.threadId, runId: state.runId },
    }));
    try {
      // A thread's own memory goes with the thread; a shared namespace is kept until deleted.
      const perThread = bound?.agent.memory.recall?.namespace === undefined;
      await environment.semantic.remember(
        scope,
        items,
        session.signal,
        perThread ? { expireSeconds: environment.threads.retentionSeconds } : {},
      );
    } catch (error) {
      // The summary matters more than its archive: an embedding outage must not stall the thread.
      session.logger.warn({ err: error }, 'could not keep the folded exchanges in semantic memory');
    }
  }
  await environment.threads.applySummary(
    thread,
    pending.through,
    pending.summary,
    pending.facts,
    environment.now(),
  );
  await session.update(({ pendingSummary: _applied, ...current }) => current, {}, [
    {
      type: 'memory.summarized',
      step: state.step,
      foldedExchanges: pending.folded.length,
      facts: pending.facts.length,
    },
  ]);
}
