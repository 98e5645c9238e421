import { isTerminalStatus, type RunJobData, type RunState } from '@plainloop/contracts';
import type { ModelCatalog } from '@plainloop/llm';
import { RunFencedError } from '@plainloop/redis';
import { logPayload } from '@plainloop/telemetry';
import { actStep } from './act-step.ts';
import { type BoundAgent, bindRunModels } from './bind-models.ts';
import { decideStep } from './decide-step.ts';
import { finishRun, requestWebhook } from './finish-run.ts';
import { withMemoryTools } from './memory/memory-tools-of-run.ts';
import { takeTurnInThread, threadPollMs } from './memory/thread-order.ts';
import type { RunEnvironment } from './run-environment.ts';
import { newRunState } from './run-identity.ts';
import { checkLimits, effectiveLimits } from './run-limits.ts';
import { RunSession } from './run-session.ts';

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
  const { created, state: stored } = await environment.store.create(
    newRunState(job.runId, job.request, environment.now()),
  );
  // A fork's record (with the source's turns) exists before its job: without it, `request` alone would
  // start a plain run from step 0, re-running the replayed steps' tools. It ends by name instead.
  const forkLost = job.fork !== undefined && created;
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
  let session: RunSession | undefined;
  try {
    const turns = await environment.store.loadTurns(stored.tenantId, stored.runId);
    session = new RunSession(environment, stored, turns, signal);
    // Taking the run bumps its version: a worker still holding an older copy is fenced out from here on.
    const taken = await session.update(({ waitingUntil: _waitingUntil, ...current }) => ({
      ...current,
      status: 'running',
      attempt: current.attempt + 1,
      startedAt: current.startedAt ?? environment.now(),
    }));
    if (taken.attempt === 1)
      session.emit({ type: 'run.started', attempt: taken.attempt }, () => ({
        input: logPayload(taken.input),
      }));
    else session.emit({ type: 'run.resumed', step: taken.step, attempt: taken.attempt });

    if (forkLost) {
      const message = `the fork of ${job.fork?.sourceRunId} from step ${job.fork?.fromStep} was lost before a worker took it; fork again`;
      await finishRun(session, { status: 'failed', error: { code: 'fork_lost', message, retryable: false } });
      return { kind: 'finished', state: session.state };
    }
    if (bound === undefined) {
      const message = `no worker that picked this run up has an agent named ${taken.agent}`;
      await finishRun(session, {
        status: 'failed',
        error: { code: 'unknown_agent', message, retryable: false },
      });
      return { kind: 'finished', state: session.state };
    }
    if (taken.step === 0 && taken.pending === null) {
      const input = bound.agent.input.safeParse(taken.input);
      if (!input.success) {
        const issues = input.error.issues.map(
          (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
        );
        const error = {
          code: 'invalid_input',
          message: `the input does not fit agent ${taken.agent}: ${issues.join('; ')}`,
          retryable: false,
        };
        await finishRun(session, { status: 'failed', error });
        return { kind: 'finished', state: session.state };
      }
    }
    const chosen =
      taken.models === undefined
        ? { ok: true as const, bound }
        : bindRunModels(bound, taken.models, options.catalog, environment.models.prices);
    if (!chosen.ok) {
      const error = { code: 'model_unavailable', message: chosen.message, retryable: false };
      await finishRun(session, { status: 'failed', error });
      return { kind: 'finished', state: session.state };
    }
    return await runSteps(session, withMemoryTools(chosen.bound, environment, taken), options);
  } catch (error) {
    if (error instanceof RunFencedError) return { kind: 'fenced', reason: error.message };
    throw error;
  } finally {
    // Events are not waited for step by step: the run is not given back before they are all in Redis.
    await session?.close();
  }
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
      await actStep(session, bound);
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
