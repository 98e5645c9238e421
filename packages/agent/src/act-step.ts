import {
  type AgentLimits,
  type Approval,
  isTerminalStatus,
  type Message,
  type PendingStep,
  type RunState,
  type StructuredError,
  type ToolCall,
} from '@plainloop/contracts';
import { type Logger, logPayload } from '@plainloop/telemetry';
import { runTool, type ValidatedToolCall } from '@plainloop/tools';
import type { BoundAgent } from './bind-models.ts';
import { commitPlan } from './commit-step.ts';
import { ReplicaUnavailableError } from './errors/replica-unavailable-error.ts';
import { checkFinalAnswer } from './final-answer.ts';
import { afterFinish, finishRun } from './finish-run.ts';
import type { PlannedEvent, RunSession } from './run-session.ts';
import { recordToolOutcome, validateCall } from './tool-breaker.ts';
import { planToolCalls } from './tool-call-plan.ts';
import { assistantMessageOf, toolMessageOf } from './transcript.ts';

/** Folds in the decisions people recorded beside the run since the checkpoint asked for them. */
async function withRecordedDecisions(session: RunSession, approvals: Record<string, Approval>) {
  if (!Object.values(approvals).some((approval) => approval.decision === 'pending')) return approvals;
  const { tenantId, runId } = session.state;
  const recorded = await session.environment.store.loadDecisions(tenantId, runId);
  let folded = approvals;
  for (const [callId, approval] of Object.entries(approvals)) {
    const decision = recorded[callId];
    if (approval.decision !== 'pending' || decision === undefined) continue;
    folded = { ...folded, [callId]: { ...approval, ...decision } };
  }
  return folded;
}

/** The turns a step appends once every tool call has its result: the answer, then each result; else undefined. */
function stepTurns(
  answer: PendingStep['result'],
  results: PendingStep['toolResults'],
): Message[] | undefined {
  const turns: Message[] = [assistantMessageOf(answer)];
  for (const call of answer.toolCalls) {
    const result = Object.hasOwn(results, call.id) ? results[call.id] : undefined;
    if (result === undefined) return undefined;
    turns.push(toolMessageOf(call, result));
  }
  return turns;
}

function pendingOf(state: RunState): PendingStep {
  if (state.pending === null) throw new Error('act phase without a checkpointed model answer');
  return state.pending;
}

async function runCall(
  session: RunSession,
  bound: BoundAgent,
  limits: AgentLimits,
  validated: Extract<ValidatedToolCall, { ok: true }>,
): Promise<void> {
  const { call, tool, input } = validated;
  const { runId, step } = session.state;
  const started = performance.now();
  let logger: Logger | undefined;
  const result = await runTool(tool, input, {
    runId,
    step,
    callId: call.id,
    idempotencyKey: `${runId}:${step}:${call.id}`,
    // Made when the tool first logs: most never do, and a child logger per call is not free.
    get logger() {
      logger ??= session.logger.child({ tool: call.name, callId: call.id });
      return logger;
    },
    signal: session.signal,
    maxOutputChars: session.environment.settings.maxToolOutputChars,
  });
  const latencyMs = performance.now() - started;
  // A call cut short by a stop (cancel, forced shutdown) is not a result: the resumed step runs it again.
  if (session.signal.aborted) return;
  const toolEvent: PlannedEvent = result.ok
    ? {
        draft: { type: 'tool.called', step, tool: call.name, callId: call.id, latencyMs },
        detail: () => ({ arguments: logPayload(input), output: logPayload(result.output) }),
      }
    : {
        draft: {
          type: 'tool.failed',
          step,
          tool: call.name,
          callId: call.id,
          error: result.error,
          latencyMs,
        },
        detail: () => ({ arguments: logPayload(input) }),
      };
  await session.write((current) => {
    const pending = pendingOf(current);
    const { settings, now } = session.environment;
    const outcome = recordToolOutcome(current, call.name, result, settings.toolFailureLimit, now());
    const toolResults = { ...pending.toolResults, [call.id]: result };
    const withResult = {
      ...current,
      toolCalls: current.toolCalls + 1,
      toolFailures: outcome.toolFailures,
      disabledTools: outcome.disabledTools,
      pending: { ...pending, toolResults },
    };
    const saved: PlannedEvent[] = [toolEvent];
    const { disabled } = outcome;
    if (disabled)
      saved.push({
        type: 'tool.disabled',
        step,
        tool: call.name,
        failures: disabled.failures,
        error: disabled.error,
      });
    const turns = stepTurns(pending.result, toolResults);
    if (turns === undefined) return { next: withResult, events: saved };
    // The step's last result commits the step in the same checkpoint: one write instead of two.
    return commitPlan(
      session,
      bound,
      limits,
      { ...withResult, step: current.step + 1, pending: null },
      turns,
      saved,
    );
  });
}

/**
 * The act and commit phases. Tool calls the checkpoint has no result for run in parallel, each result
 * checkpointed as it lands; then the step's turns are appended to the transcript and the step advances
 * in one write. An answer without tool calls is checked against the output schema: it finishes the run,
 * or goes back to the model with what to repair.
 */
export async function actStep(session: RunSession, bound: BoundAgent, limits: AgentLimits): Promise<void> {
  await actOnAnswer(session, bound, limits);
  // The write that committed the step may have ended the run (a limit): what follows an end follows.
  if (isTerminalStatus(session.state.status)) await afterFinish(session, session.state);
}

async function actOnAnswer(session: RunSession, bound: BoundAgent, limits: AgentLimits): Promise<void> {
  const pending = pendingOf(session.state);
  const calls = pending.result.toolCalls;
  const assistant = assistantMessageOf(pending.result);

  if (calls.length === 0) {
    const { finishReason } = pending.result;
    if (finishReason === 'content_filter') {
      const message = 'the model refused to answer, or its answer was filtered by the provider';
      await finishRun(session, {
        status: 'failed',
        error: { code: 'content_filtered', message, retryable: false },
        appendTurns: [assistant],
      });
      return;
    }
    // A cut-off or broken answer is not a final answer, with or without an output schema.
    const answer =
      finishReason === 'length'
        ? {
            ok: false as const,
            repair: 'Your answer was cut off at the output limit. Answer again, shorter.',
          }
        : finishReason === 'other'
          ? { ok: false as const, repair: 'Your last answer could not be used. Answer again.' }
          : checkFinalAnswer(pending.result.text, bound.agent.output);
    if (answer.ok) {
      await finishRun(session, { status: 'succeeded', output: answer.output, appendTurns: [assistant] });
      return;
    }
    const allowed = session.environment.settings.maxOutputRepairs;
    if (session.state.outputRepairs >= allowed) {
      const message = `the final answer still did not fit the output schema after ${allowed} repairs: ${answer.repair}`;
      await finishRun(session, {
        status: 'failed',
        error: { code: 'invalid_output', message, retryable: false },
        appendTurns: [assistant],
      });
      return;
    }
    const repair: Message = { role: 'user', content: answer.repair };
    await session.write((current) =>
      commitPlan(
        session,
        bound,
        limits,
        { ...current, step: current.step + 1, pending: null, outputRepairs: current.outputRepairs + 1 },
        [assistant, repair],
        [],
      ),
    );
    return;
  }

  const unfinished = calls
    .filter((call) => !Object.hasOwn(pending.toolResults, call.id))
    .map((call) => validateCall(session.state, bound.agent.tools, call));
  const now = session.environment.now();
  const approvals = await withRecordedDecisions(session, pending.approvals);
  const plan = planToolCalls(
    { ...pending, approvals },
    unfinished,
    now,
    session.environment.settings.approvalTimeoutMs,
  );
  const decisionsFolded = approvals !== pending.approvals;
  let toRun = plan.toRun;
  if (
    Object.keys(plan.errors).length > 0 ||
    plan.toMark.length > 0 ||
    plan.approvalsChanged ||
    decisionsFolded
  ) {
    const marked = await session
      .update(
        (current) => {
          const latest = pendingOf(current);
          return {
            ...current,
            pending: {
              ...latest,
              toolResults: { ...latest.toolResults, ...plan.errors },
              startedCalls: {
                ...latest.startedCalls,
                ...Object.fromEntries(plan.toMark.map((id) => [id, now])),
              },
              approvals: plan.approvals,
            },
          };
        },
        // A failover must not undo a "started" mark, or the call could run twice: on a cluster it must
        // be on a replica before the call runs.
        { toReplica: plan.toMark.length > 0 },
        Object.entries(plan.errors).map(([callId, { error }]) => notRunEvent(session, calls, callId, error)),
      )
      .then(
        () => true,
        (error: unknown) => {
          if (error instanceof ReplicaUnavailableError) return false;
          throw error;
        },
      );
    if (!marked) {
      await notRunForWantOfReplica(session, calls, plan.toMark);
      const unmarked = new Set(plan.toMark);
      toRun = plan.toRun.filter((validated) => !unmarked.has(validated.call.id));
    }
  }
  const settled = await Promise.allSettled(
    toRun.map((validated) => runCall(session, bound, limits, validated)),
  );
  const failure = settled.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  if (plan.approvalDeadline !== undefined && !session.signal.aborted) {
    // A person has to decide first: the run waits, holding no worker slot, until a decision or the deadline.
    const until = plan.approvalDeadline;
    await session.update((current) => ({ ...current, status: 'waiting', waitingUntil: until }), {}, [
      { type: 'run.waiting', step: session.state.step, until, reason: 'approval' },
    ]);
    return;
  }

  // The last result that landed here committed the step with it.
  if (session.state.pending === null) return;
  const turns = stepTurns(pending.result, pendingOf(session.state).toolResults);
  if (turns === undefined) {
    // Only a stop (cancellation, shutdown, a lost run) leaves a call without a result.
    if (session.signal.aborted) return;
    throw new Error(`a tool call of step ${session.state.step} has no result`);
  }
  await session.write((current) =>
    commitPlan(session, bound, limits, { ...current, step: current.step + 1, pending: null }, turns, []),
  );
}

/**
 * The marked calls did not run: their "started" marks reached no replica in time. Each gets a
 * retryable error as its result, its mark taken back in the same write, so the model may call again.
 */
async function notRunForWantOfReplica(
  session: RunSession,
  calls: readonly ToolCall[],
  callIds: readonly string[],
): Promise<void> {
  const error = {
    code: 'replica_unavailable',
    message:
      'this call was not run: Redis could not copy its start to a replica in time, and without that a failover could run it twice; it is safe to call again',
    retryable: true,
  };
  await session.update(
    (current) => {
      const latest = pendingOf(current);
      const startedCalls = { ...latest.startedCalls };
      for (const id of callIds) delete startedCalls[id];
      const failed = Object.fromEntries(callIds.map((id) => [id, { ok: false as const, error }]));
      return {
        ...current,
        pending: { ...latest, toolResults: { ...latest.toolResults, ...failed }, startedCalls },
      };
    },
    {},
    callIds.map((callId) => notRunEvent(session, calls, callId, error)),
  );
}

/** `tool.failed` for a call that got its error without running. */
function notRunEvent(
  session: RunSession,
  calls: readonly ToolCall[],
  callId: string,
  error: StructuredError,
) {
  return {
    type: 'tool.failed' as const,
    step: session.state.step,
    tool: calls.find((each) => each.id === callId)?.name ?? '',
    callId,
    error,
    latencyMs: 0,
  };
}
