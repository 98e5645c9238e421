import { randomUUID } from 'node:crypto';
import {
  addUsage,
  GenerateResult,
  modelRefOf,
  type PendingStep,
  PlainloopError,
  type StructuredError,
  type ToolCall,
  type ToolForModel,
} from '@plainloop/contracts';
import { costUsd, LanguageModelError, priceOf } from '@plainloop/llm';
import { validateToolCall } from '@plainloop/tools';
import type { BoundAgent } from './bind-models.ts';
import { finishRun } from './finish-run.ts';
import type { RunSession } from './run-session.ts';
import { chooseTier } from './tier-policy.ts';
import { buildMessages } from './transcript.ts';

function toolsForModel({ agent }: BoundAgent): ToolForModel[] {
  return [...agent.tools.values()].map(({ description }) => ({
    name: description.name,
    description: description.description,
    inputSchema: description.inputSchema,
  }));
}

/** Models occasionally repeat a tool call id; results are keyed by id, so each call needs its own. */
function withUniqueIds(toolCalls: readonly ToolCall[]): ToolCall[] {
  const seen = new Set<string>();
  return toolCalls.map((call, index) => {
    const id = seen.has(call.id) ? `${call.id}#${index}` : call.id;
    seen.add(id);
    return { ...call, id };
  });
}

function structuredFailure(error: unknown): StructuredError {
  if (error instanceof PlainloopError) return error.toStructured();
  return {
    code: 'llm_unknown',
    message: error instanceof Error ? error.message : String(error),
    retryable: false,
  };
}

/**
 * The decide phase: build the context, choose the tier, call the model, and checkpoint its answer,
 * usage and cost before any tool runs, so a crash after this point never pays for the call again.
 * Invalid tool calls get their structured error in the same write (validation is pure, so a resumed
 * step would reach the same verdict).
 */
export async function decideStep(session: RunSession, bound: BoundAgent): Promise<void> {
  const { state, turns, environment } = session;
  const tier = chooseTier({ step: state.step, turns });
  // Fallback along the chain comes with the router; for now the first model of the tier serves.
  const [model] = bound.models[tier];
  if (!model) throw new Error(`agent ${bound.agent.name} has no ${tier} model`);
  const modelRef = modelRefOf(model);
  await session.emit({ type: 'step.started', step: state.step, tier });

  const started = performance.now();
  let result: GenerateResult;
  try {
    const answer = await model.doGenerate({
      messages: buildMessages(bound.agent.instructions, state.input, turns),
      tools: toolsForModel(bound),
      ...(bound.agent.outputSchema
        ? { responseSchema: { name: 'final_answer', schema: bound.agent.outputSchema } }
        : {}),
      timeoutMs: environment.settings.modelTimeoutMs,
      signal: session.signal,
    });
    // What is saved must load again: an answer that breaks the contract (a custom adapter, a loose
    // OpenAI-compatible server) is a failed call, not a run that can no longer be read.
    const checked = GenerateResult.safeParse(answer);
    if (!checked.success) {
      const problem = checked.error.issues[0];
      throw new LanguageModelError({
        kind: 'server',
        model: modelRef,
        message: `the model's answer does not fit the LanguageModel spec: ${problem?.path.join('.')}: ${problem?.message}`,
      });
    }
    result = checked.data;
  } catch (error) {
    if (session.signal.aborted) return;
    const failure = structuredFailure(error);
    const latencyMs = performance.now() - started;
    session.logger.warn({ err: error, model: modelRef, step: state.step }, 'model call failed');
    await session.emit({ type: 'llm.failed', step: state.step, model: modelRef, error: failure, latencyMs });
    await finishRun(session, { status: 'failed', error: failure });
    return;
  }
  const latencyMs = performance.now() - started;
  const toolCalls = withUniqueIds(result.toolCalls);
  const pricedAs = model.pricedAs ?? modelRef;
  const price = priceOf(pricedAs);
  const cost = price ? costUsd(result.usage, price) : 0;
  const callId = `${state.runId}:${state.step}:${randomUUID().slice(0, 8)}`;
  const invalidCalls = toolCalls
    .map((call) => validateToolCall(bound.agent.tools, call))
    .filter((validated) => !validated.ok);
  const pending: PendingStep = {
    tier,
    model: modelRef,
    callId,
    result: { ...result, toolCalls },
    costUsd: cost,
    latencyMs,
    toolResults: Object.fromEntries(
      invalidCalls.map(({ call, error }) => [call.id, { ok: false as const, error }]),
    ),
  };
  await session.update(
    (current) => ({
      ...current,
      pending,
      usage: addUsage(current.usage, result.usage),
      costUsd: current.costUsd + cost,
      llmCalls: current.llmCalls + 1,
    }),
    {
      modelCall: {
        callId,
        step: state.step,
        model: modelRef,
        pricedAs,
        finishReason: result.finishReason,
        toolCalls: toolCalls.map((call) => call.name),
        usage: result.usage,
        costUsd: cost,
        latencyMs,
        at: environment.now(),
      },
    },
  );
  await session.emit({
    type: 'llm.called',
    step: state.step,
    model: modelRef,
    callId,
    finishReason: result.finishReason,
    toolCalls: toolCalls.length,
    usage: result.usage,
    costUsd: cost,
    latencyMs,
  });
  for (const { call, error } of invalidCalls) {
    await session.emit({
      type: 'tool.failed',
      step: state.step,
      tool: call.name,
      callId: call.id,
      error,
      latencyMs: 0,
    });
  }
}
