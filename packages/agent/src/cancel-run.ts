import { isTerminalStatus, type RunState } from '@plainloop/contracts';
import { type KeySchema, type RedisConnection, RunFencedError } from '@plainloop/redis';
import type { Queue } from 'bullmq';
import { finishRun, requestWebhook } from './finish-run.ts';
import type { RunEnvironment } from './run-environment.ts';
import { RunSession } from './run-session.ts';

export type CancelOutcome =
  | { kind: 'not_found' }
  /** The run had already ended; nothing changed (its webhook is queued, if it was not). */
  | { kind: 'already_finished'; state: RunState }
  /** The run ended `cancelled` now (it was queued or waiting, so no worker held it). */
  | { kind: 'cancelled'; state: RunState }
  /** A worker holds the run: it was told, and ends the run `cancelled` at once. */
  | { kind: 'requested'; state: RunState };

export type CancelDependencies = {
  environment: RunEnvironment;
  queue: Queue;
  /** A connection that may publish on the control channel. */
  redis: RedisConnection;
  keys: KeySchema;
};

/** A cancel control message, as published on `keys.control` for every worker. */
export type CancelMessage = { type: 'cancel'; tenantId: string; runId: string };

/**
 * Cancels a run from any process. BullMQ cancels only inside the worker that holds a job, so the request
 * travels two ways: a pub/sub message that reaches the worker at once, and a cancel key that every
 * checkpoint of the run reports (for a worker whose message was lost). A run no worker holds (queued, or
 * waiting) is ended here and now. When its webhook cannot be queued, the run stays ended and this
 * throws, so the request fails and is retried; the run's job is left to queue the webhook when it runs.
 */
export async function cancelRun(
  dependencies: CancelDependencies,
  tenantId: string,
  runId: string,
  reason: string,
): Promise<CancelOutcome> {
  const { environment } = dependencies;
  const state = await environment.store.load(tenantId, runId);
  if (state === undefined) return { kind: 'not_found' };
  if (isTerminalStatus(state.status)) return alreadyFinished(environment, state);
  // The request must outlive any wait of the run (an approval can take a day); finishing expires it.
  const { settings, models } = environment;
  const keepSeconds =
    settings.retentionSeconds + Math.ceil((settings.approvalTimeoutMs + models.maxStepWaitMs) / 1000);
  await environment.store.requestCancel(tenantId, runId, reason, keepSeconds);
  const message: CancelMessage = { type: 'cancel', tenantId, runId };
  await dependencies.redis.publish(dependencies.keys.control, JSON.stringify(message));
  // Read again: a worker may have parked the run between the first read and the request, too late to
  // see the request in its checkpoint and too early for the message.
  const latest = (await environment.store.load(tenantId, runId)) ?? state;
  if (isTerminalStatus(latest.status)) return alreadyFinished(environment, latest);
  if (latest.status !== 'queued' && latest.status !== 'waiting') return { kind: 'requested', state: latest };
  try {
    const session = new RunSession(environment, latest, [], new AbortController().signal);
    const cancelled = await finishRun(session, {
      status: 'cancelled',
      error: { code: 'cancelled', message: reason, retryable: false },
    });
    // The job would only find a finished run; removing it keeps the queue honest. A job a worker just
    // locked cannot be removed, and that worker ends at once on the finished run. Only once the webhook
    // is queued: finishRun throws when it could not be, and the job left behind queues it when it runs
    // (as does the producer's retried cancel).
    await dependencies.queue.remove(runId).catch(() => undefined);
    return { kind: 'cancelled', state: cancelled };
  } catch (error) {
    // A worker took the run between the read and the write: it will see the cancel key.
    if (error instanceof RunFencedError) return { kind: 'requested', state: latest };
    throw error;
  }
}

/**
 * A cancel of an ended run changes nothing, but queues its webhook (a no-op when it was queued): the
 * cancel that ended it may have failed to, and a producer retrying that cancel lands here.
 */
async function alreadyFinished(environment: RunEnvironment, state: RunState): Promise<CancelOutcome> {
  await requestWebhook(environment, state);
  return { kind: 'already_finished', state };
}
