import { isTerminalStatus, type RunJobData, type RunState, type StructuredError } from '@plainloop/contracts';
import type { ModelCatalog } from '@plainloop/llm';
import { RunFencedError } from '@plainloop/redis';
import { logPayload } from '@plainloop/telemetry';
import { actStep } from './act-step.ts';
import { type BoundAgent, bindRunModels } from './bind-models.ts';
import { tierOf } from './commit-step.ts';
import { decideStep } from './decide-step.ts';
import { afterFinish, finishPlan, finishRun, requestWebhook } from './finish-run.ts';
import { withMemoryTools } from './memory/memory-tools-of-run.ts';
import { takeTurnInThread, threadPollMs } from './memory/thread-order.ts';
import type { RunEnvironment } from './run-environment.ts';
import { newRunState } from './run-identity.ts';
import { checkLimits, effectiveLimits } from './run-limits.ts';
import { type PlannedEvent, RunSession } from './run-session.ts';

export type ExecuteRunOptions = {
  environment: RunEnvironment;
  agents: ReadonlyMap<string, BoundAgent>;
  job: RunJobData;
  /** Aborts in-flight model and tool calls: cancellation, or a shutdown that ran out of time. */
  signal: AbortSignal;
  /** Asked between phases; true means stop at this checkpoint and give the run back (graceful shutdown). */
  shouldRelease: () => boolean;
  /**
   * Whether another worker may still get this run. While it may, a run for an agent this worker does
   * not have is left alone (a rolling deploy, a mixed fleet); on the last chance it fails by name.
   */
  lastAttempt: boolean;
  /** Resolves a run's own model chains (a fork's); without it such a run fails `model_unavailable`. */
  catalog?: ModelCatalog;
};

export type RunOutcome =
  /** The run ended (now, or before this worker got it). */
  | { kind: 'finished'; state: RunState }
  /** Stopped at a checkpoint on request; the run goes back to the queue and resumes from there. */
  | { kind: 'released'; state: RunState }
  /** No model can take the run's next call yet: it waits, checkpointed, until `resumeAt`. */
  | { kind: 'waiting'; state: RunState; resumeAt: number }
  /** Another worker took the run over; this one must drop it without writing anything more. */
  | { kind: 'fenced'; reason: string }
  /** This worker does not have the run's agent; nothing was written, another worker may have it. */
  | { kind: 'unknown_agent'; agent: string };

/**
 * Runs a run from wherever its last checkpoint left it until it finishes or is released. Each
 * iteration of the loop is one phase of the step machine: admit (limits), decide (model call,
 * checkpointed), then act and commit (tools, each result checkpointed, then the step's turns).
 */
export async function executeRun(options: ExecuteRunOptions): Promise<RunOutcome> {
  const { environment, job, signal } = options;
  // One call creates the run if a direct BullMQ producer did not, and reads it with its transcript.
  const opened = await environment.store.take(job.request.tenantId, job.runId, () =>
    newRunState(job.runId, job.request, environment.now()),
  );
  const stored = opened.state;
  // A fork's record (with the source's turns) exists before its job: without it, `request` alone would
  // start a plain run from step 0, re-running the replayed steps' tools. It ends by name instead.
  const forkLost = job.fork !== undefined && opened.created;
  if (isTerminalStatus(stored.status)) {
    // BullMQ runs the job again when a worker died after the terminal checkpoint, or when the finish
    // could not queue the webhook (it throws for that): queue it now (a no-op if it was queued).
    await requestWebhook(environment, stored);
    return { kind: 'finished', state: stored };
  }
  const bound = options.agents.get(stored.agent);
  if (bound === undefined && !options.lastAttempt) return { kind: 'unknown_agent', agent: stored.agent };
  if (!(await takeTurnInThread(environment, stored))) {
    // Another run of the thread is active: this one waits its turn, no slot held, nothing written.
    return { kind: 'waiting', state: stored, resumeAt: environment.now() + threadPollMs };
  }
  const session = new RunSession(environment, stored, opened.turns, signal);
  try {
    const cannotStart = whyItCannotStart(options, stored, bound, forkLost);
    // Taking the run bumps its version: a worker still holding an older copy is fenced out from here on.
    const take = ({ waitingUntil: _waitingUntil, ...current }: RunState): Omit<RunState, 'version'> => ({
      ...current,
      status: 'running',
      attempt: current.attempt + 1,
      startedAt: current.startedAt ?? environment.now(),
    });
    const started: PlannedEvent =
      stored.attempt === 0
        ? { draft: { type: 'run.started', attempt: 1 }, detail: () => ({ input: logPayload(stored.input) }) }
        : { type: 'run.resumed', step: stored.step, attempt: stored.attempt + 1 };
    if (cannotStart.kind === 'failed') {
      // Taken and ended in one write.
      const state = await session.write((current) =>
        finishPlan(environment, take(current), { status: 'failed', error: cannotStart.error }, [started]),
      );
      await afterFinish(session, state);
      return { kind: 'finished', state };
    }
    const chosen = cannotStart.bound;
    // The step the run stands at is announced by the write that made it current: for a run taken the
    // first time (or a fork), that is this one.
    await session.write((current) => ({
      next: take(current),
      events: () =>
        current.attempt === 0 && current.pending === null
          ? [
              started,
              { type: 'step.started', step: current.step, tier: tierOf(chosen, current.step, session.turns) },
            ]
          : [started],
    }));
    return await runSteps(session, withMemoryTools(chosen, environment, session.state), options);
  } catch (error) {
    if (error instanceof RunFencedError) return { kind: 'fenced', reason: error.message };
    throw error;
  } finally {
    session.close();
  }
}

/** A run that cannot start here ends by name: its fork was lost, no agent, input or models that do not fit. */
function whyItCannotStart(
  options: ExecuteRunOptions,
  state: RunState,
  bound: BoundAgent | undefined,
  forkLost: boolean,
): { kind: 'failed'; error: StructuredError } | { kind: 'ready'; bound: BoundAgent } {
  const failed = (code: string, message: string) => ({
    kind: 'failed' as const,
    error: { code, message, retryable: false },
  });
  if (forkLost) {
    const { fork } = options.job;
    return failed(
      'fork_lost',
      `the fork of ${fork?.sourceRunId} from step ${fork?.fromStep} was lost before a worker took it; fork again`,
    );
  }
  if (bound === undefined)
    return failed('unknown_agent', `no worker that picked this run up has an agent named ${state.agent}`);
  if (state.step === 0 && state.pending === null) {
    const input = bound.agent.input.safeParse(state.input);
    if (!input.success) {
      const issues = input.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      return failed('invalid_input', `the input does not fit agent ${state.agent}: ${issues.join('; ')}`);
    }
  }
  if (state.models === undefined) return { kind: 'ready', bound };
  const chosen = bindRunModels(bound, state.models, options.catalog, options.environment.models.prices);
  return chosen.ok ? { kind: 'ready', bound: chosen.bound } : failed('model_unavailable', chosen.message);
}

async function runSteps(
  session: RunSession,
  bound: BoundAgent,
  options: ExecuteRunOptions,
): Promise<RunOutcome> {
  const limits = effectiveLimits(bound.agent.limits, session.state.limits);
  while (!isTerminalStatus(session.state.status)) {
    if (session.fencedBy) throw session.fencedBy;
    // A cancel comes first: before parking a run (a cancel seen by the parking checkpoint must not leave
    // it waiting for hours) and before giving it back.
    if (session.cancelRequested || options.signal.aborted) {
      const { tenantId, runId } = session.state;
      const reason = await options.environment.store.cancelReason(tenantId, runId);
      if (reason !== undefined || session.cancelRequested) {
        const message = reason ?? 'cancelled on request';
        await finishRun(session, {
          status: 'cancelled',
          error: { code: 'cancelled', message, retryable: false },
        });
        break;
      }
    }
    if (session.state.status === 'waiting') {
      return {
        kind: 'waiting',
        state: session.state,
        resumeAt: session.state.waitingUntil ?? options.environment.now(),
      };
    }
    if (options.shouldRelease() || options.signal.aborted) return { kind: 'released', state: session.state };
    if (session.state.pending !== null) {
      await actStep(session, bound, limits);
      continue;
    }
    const stop = checkLimits(session.state, limits);
    if (stop) {
      await finishRun(session, {
        status: stop.status,
        error: stop.error,
        ...(stop.budget ? { budget: stop.budget } : {}),
      });
      break;
    }
    await decideStep(session, bound, limits);
  }
  return { kind: 'finished', state: session.state };
}
