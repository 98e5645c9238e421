import type { Message, RunJobData, RunRequest, RunState } from '@plainloop/contracts';
import type { ThreadQueue } from '@plainloop/memory';
import { type RunStore, runJobOptions } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import type { Queue } from 'bullmq';
import { newRunState, runIdFor } from './run-identity.ts';

export type SubmitResult =
  | { kind: 'created'; state: RunState }
  /** The same request again (same idempotency key, same content): the existing run. */
  | { kind: 'existing'; state: RunState }
  /** The idempotency key is taken by a different request. */
  | { kind: 'conflict'; state: RunState };

export type SubmitDependencies = {
  store: RunStore;
  /** On the store's connection: `WAIT` counts one connection's writes, and a submission waits for its job's. */
  queue: Queue;
  logger: Logger;
  /** Runs of a thread take their turns in the order they were submitted; without it, in the order taken. */
  threads?: Pick<ThreadQueue, 'enter'>;
};

/**
 * Creates a run and enqueues its job. Idempotent: the run id comes from the idempotency key, the job
 * id is the run id, and a queued run is enqueued again (a no-op if its job exists), which repairs a
 * producer that crashed between the two writes.
 */
export async function submitRun(
  dependencies: SubmitDependencies,
  request: RunRequest,
  now: number,
): Promise<SubmitResult> {
  return submitPreparedRun(dependencies, newRunState(runIdFor(request), request, now), request, []);
}

/**
 * Creates `initial` unless its run exists, with the turns it starts from, and enqueues it: the one path
 * for new runs and forks. A run that exists under the same id with another request hash is a conflict.
 */
export async function submitPreparedRun(
  dependencies: SubmitDependencies,
  initial: RunState,
  request: RunRequest,
  turns: readonly Message[],
  fork?: RunJobData['fork'],
): Promise<SubmitResult> {
  const { runId } = initial;
  // `run.queued` is written with the run, before the job exists: no worker's run.started can come
  // ahead of it in the run's events.
  const { created, state } = await dependencies.store.create(initial, turns, {
    type: 'run.queued',
    runId,
    tenantId: initial.tenantId,
    agent: initial.agent,
    at: initial.createdAt,
  });
  if (!created && state.requestHash !== initial.requestHash) return { kind: 'conflict', state };
  if (created || state.status === 'queued') {
    const data: RunJobData = { runId, request, ...(fork === undefined ? {} : { fork }) };
    const job = await dependencies.queue.add('run', data, { ...runJobOptions, jobId: runId });
    // An idempotency key reused after its old run expired can meet that run's finished job, still kept
    // by BullMQ under the same id; adding was then a no-op, so the old job makes way for the new run.
    if (created && ['completed', 'failed'].includes(await job.getState())) {
      await job.remove();
      await dependencies.queue.add('run', data, { ...runJobOptions, jobId: runId });
    }
    // After the job exists: a run in its thread's queue without a job would hold the thread up.
    if (request.threadId !== undefined)
      await dependencies.threads?.enter({ tenantId: state.tenantId, threadId: request.threadId }, runId);
    await awaitReplicas(dependencies, state);
  }
  if (!created) return { kind: 'existing', state };
  return { kind: 'created', state };
}

/**
 * On a cluster, answers only once replicas have the run and its job, so a failover cannot undo an
 * accepted run. None in time (a replica down or far behind): the run is still accepted, since its
 * master has it and it goes ahead, and the warning says that a failover of that master now could lose
 * it (the producer's retry with the same idempotency key recovers it). Failing the request instead
 * would have a producer without an idempotency key submit the run twice.
 */
async function awaitReplicas(dependencies: SubmitDependencies, state: RunState): Promise<void> {
  const { store, queue, logger } = dependencies;
  // The job's keys share the queue's slot; the queue writes over the store's connection (the API's).
  const replicated = await store.reachedReplicas(state, [queue.toKey('id')]);
  if (!replicated)
    logger.warn(
      { runId: state.runId, tenantId: state.tenantId },
      'run accepted before a replica acknowledged it: a failover of its master now could lose it',
    );
}
