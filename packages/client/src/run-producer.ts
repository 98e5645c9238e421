import {
  PlainloopError,
  type RunJobData,
  RunRequest,
  type RunRequestInput,
  runIdFor,
  runJob,
} from '@plainloop/contracts';
import { type ConnectionOptions, Queue } from 'bullmq';

/**
 * Enqueues a run straight into BullMQ, without the API: for a backend that already holds a Redis
 * connection and wants no HTTP hop. The request is checked against `RunRequest` and the run id
 * computed as the API does (from tenant and idempotency key), so the same key again adds nothing.
 *
 * What this path skips: the API's check of the agent's name and of the input against the agent's
 * published schema. A run for an agent no worker has, or with input that does not fit, is queued
 * anyway and the worker ends it `failed` (`unknown_agent`, `invalid_input`). And the run record is
 * written by the worker that takes the job: until one does, `GET /v1/runs/:id` answers 404.
 */
export async function enqueueRun(queue: Queue, request: RunRequestInput): Promise<{ runId: string }> {
  if (queue.name !== runJob.queueName)
    throw new PlainloopError(
      'wrong_queue',
      `runs go to the queue ${runJob.queueName}, not ${queue.name}: no worker would take them`,
    );
  const parsed = RunRequest.safeParse(request);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((issue) => `${issue.path.join('.') || '(request)'}: ${issue.message}`);
    throw new PlainloopError('invalid_request', `the run request does not fit: ${issues.join('; ')}`, {
      cause: parsed.error,
    });
  }
  const runId = runIdFor(parsed.data);
  const data: RunJobData = { runId, request: parsed.data };
  await queue.add(runJob.jobName, data, { ...runJob.options, jobId: runId });
  return { runId };
}

export type RunProducerOptions = {
  /** Where the fleet's Redis is: ioredis options, or an ioredis client (left open on `close()`). */
  connection: ConnectionOptions;
  /** The fleet's `PLAINLOOP_REDIS_PREFIX` (`plainloop` by default). */
  prefix?: string;
};

/** A BullMQ queue made the way the fleet reads it (queue `plainloop-runs`, prefix `{<prefix>}`), to enqueue runs. */
export class RunProducer {
  readonly #queue: Queue;

  constructor({ connection, prefix = 'plainloop' }: RunProducerOptions) {
    // The hash tag keeps all of the queue's keys in one Redis Cluster slot, as the fleet expects.
    this.#queue = new Queue(runJob.queueName, { connection, prefix: `{${prefix}}` });
  }

  /** See `enqueueRun`: the API's input check is skipped on this path. */
  enqueue(request: RunRequestInput): Promise<{ runId: string }> {
    return enqueueRun(this.#queue, request);
  }

  close(): Promise<void> {
    return this.#queue.close();
  }
}
