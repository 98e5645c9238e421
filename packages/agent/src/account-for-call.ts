import {
  addUsage,
  type ModelCallRecord,
  modelRefOf,
  type RunState,
  type Tier,
  type ToolCall,
} from '@plainloop/contracts';
import type { RouteOutcome } from '@plainloop/llm';
import type { RunEventDraft, RunSession } from './run-session.ts';

type Answered = Extract<RouteOutcome, { kind: 'answered' }>;

/**
 * What an answered model call adds to a run, worked out once for every kind of call (a step's, a
 * summary's): its price, its ledger record, the run's new totals, and its `llm.called` event. The
 * caller checkpoints the totals with the record (the ledger's `HSETNX` counts the call once) and the
 * event, in one write.
 */
export function accountForCall(
  session: RunSession,
  outcome: Answered,
  tier: Tier,
  toolCalls: readonly ToolCall[],
) {
  const { environment, state } = session;
  const { model, result, latencyMs, callId } = outcome;
  const modelRef = modelRefOf(model);
  const pricedAs = model.pricedAs ?? modelRef;
  const price = environment.models.prices.quote(pricedAs, result.usage);
  // An unpriced call is flagged in its ledger record, its event and the run's `unpricedCalls`; the worker
  // warns of the model once at start-up, not at every call (that built a logger per run for nothing).
  const record: ModelCallRecord = {
    callId,
    step: state.step,
    model: modelRef,
    pricedAs,
    finishReason: result.finishReason,
    toolCalls: toolCalls.map((call) => call.name),
    usage: result.usage,
    costUsd: price.costUsd,
    costKnown: price.known,
    latencyMs,
    at: environment.now(),
  };
  const event: RunEventDraft = {
    type: 'llm.called',
    step: state.step,
    tier,
    model: modelRef,
    fallback: outcome.fallback,
    callId,
    finishReason: result.finishReason,
    toolCalls: toolCalls.length,
    usage: result.usage,
    costUsd: price.costUsd,
    costKnown: price.known,
    latencyMs,
  };
  const addTotals = <State extends Omit<RunState, 'version'>>(current: State): State => ({
    ...current,
    usage: addUsage(current.usage, result.usage),
    costUsd: current.costUsd + price.costUsd,
    unpricedCalls: current.unpricedCalls + (price.known ? 0 : 1),
    llmCalls: current.llmCalls + 1,
  });
  return { modelRef, price, record, event, addTotals };
}
