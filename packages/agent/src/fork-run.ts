import {
  addUsage,
  emptyUsage,
  type Message,
  type RunLimits,
  type RunRequest,
  type RunState,
  type RunWebhook,
  runIdFor,
} from '@plainloop/contracts';
import { forkHashOf, newRunState } from './run-identity.ts';
import { type SubmitDependencies, type SubmitResult, submitPreparedRun } from './submit-run.ts';

export type ForkRequest = {
  tenantId: string;
  sourceRunId: string;
  /** How many of the source's completed steps the fork replays from the record before it goes on. */
  fromStep: number;
  /** Chains that replace the agent's for the fork, by tier (a tier left out keeps the agent's). */
  models?: { plan?: string[]; execute?: string[] };
  idempotencyKey?: string;
  limits?: RunLimits;
  webhook?: RunWebhook;
};

export type ForkResult = SubmitResult | { kind: 'not_found' } | { kind: 'invalid'; reason: string };

/**
 * The source's transcript through its first `steps` completed steps. Every step's turns start with
 * the model's answer (then its tool results, or a repair request), so the steps are counted by the
 * assistant messages. Undefined when the record has fewer steps than that.
 */
export function turnsThroughStep(turns: readonly Message[], steps: number): Message[] | undefined {
  let seen = 0;
  for (const [index, message] of turns.entries()) {
    if (message.role !== 'assistant') continue;
    if (seen === steps) return turns.slice(0, index);
    seen += 1;
  }
  return seen === steps ? [...turns] : undefined;
}

/**
 * A new run that starts where the source's step `fromStep` ended: its transcript (model answers and
 * tool results, as recorded) is copied, so those steps cost no model call and run no tool again, and
 * the fork goes on from there, with other models if asked. What the copied steps cost the source is
 * kept in `forkedFrom`; the fork's own usage and cost start at zero, so the two compare directly.
 */
export async function forkRun(
  dependencies: SubmitDependencies,
  fork: ForkRequest,
  now: number,
): Promise<ForkResult> {
  const { store } = dependencies;
  const source = await store.load(fork.tenantId, fork.sourceRunId);
  if (source === undefined) return { kind: 'not_found' };
  if (source.threadId !== undefined)
    return {
      kind: 'invalid',
      reason: `run ${source.runId} is on thread ${source.threadId}: a fork would write into that conversation, so runs on a thread cannot be forked`,
    };
  const earlier = source.forkedFrom;
  if (earlier !== undefined && fork.fromStep < earlier.step)
    return {
      kind: 'invalid',
      reason: `run ${source.runId} is a fork of ${earlier.runId} from step ${earlier.step}: fork ${earlier.runId} itself for an earlier step`,
    };
  if (fork.fromStep > source.step)
    return {
      kind: 'invalid',
      reason: `run ${source.runId} has ${source.step} completed steps; fromStep must be between 0 and ${source.step}`,
    };
  const turns = turnsThroughStep(await store.loadTurns(source.tenantId, source.runId), fork.fromStep);
  if (turns === undefined)
    return { kind: 'invalid', reason: `the transcript of run ${source.runId} is incomplete` };
  const last = turns.at(-1);
  if (last?.role === 'assistant' && last.toolCalls.length === 0)
    return {
      kind: 'invalid',
      reason: `step ${fork.fromStep} of run ${source.runId} ended it (a final answer, or one that could not be used): fork from an earlier step`,
    };
  const replayed = (await store.loadModelCalls(source.tenantId, source.runId)).filter(
    (call) => call.step < fork.fromStep,
  );
  const limits = fork.limits ?? source.limits;
  // A fork of a fork keeps its source's models unless it names its own, and counts what the source
  // itself replayed among the replayed steps.
  const models = fork.models ?? source.models;
  const inherited = earlier ?? { usage: emptyUsage, costUsd: 0 };
  const request: RunRequest = {
    agent: source.agent,
    input: source.input,
    tenantId: source.tenantId,
    ...(fork.idempotencyKey === undefined ? {} : { idempotencyKey: fork.idempotencyKey }),
    ...(limits === undefined ? {} : { limits }),
    ...(source.metadata === undefined ? {} : { metadata: source.metadata }),
    ...(fork.webhook === undefined ? {} : { webhook: fork.webhook }),
  };
  const initial: RunState = {
    ...newRunState(runIdFor(request), request, now),
    requestHash: forkHashOf({
      sourceRunId: source.runId,
      fromStep: fork.fromStep,
      ...(models === undefined ? {} : { models }),
      ...(limits === undefined ? {} : { limits }),
      ...(fork.webhook === undefined ? {} : { webhook: fork.webhook }),
    }),
    step: fork.fromStep,
    forkedFrom: {
      runId: source.runId,
      step: fork.fromStep,
      usage: replayed.reduce((total, call) => addUsage(total, call.usage), { ...inherited.usage }),
      costUsd: replayed.reduce((total, call) => total + call.costUsd, inherited.costUsd),
    },
    ...(models === undefined ? {} : { models }),
  };
  return submitPreparedRun(dependencies, initial, request, turns, {
    sourceRunId: source.runId,
    fromStep: fork.fromStep,
  });
}
