import { z } from 'zod';
import { RunRequest } from './run-request.ts';

/**
 * The data of a job on the `plainloop-runs` queue. A producer that enqueues with BullMQ directly sends
 * this, with `jobId` equal to `runId`; the worker creates the run from `request` if no run exists yet.
 */
export const RunJobData = z.object({
  runId: z.string().regex(/^run_[a-zA-Z0-9_-]{8,64}$/),
  request: RunRequest,
  /**
   * Set on a fork's job: the API created the fork (with the source's turns) before queueing it, so a
   * worker that finds no run for this job must not start one from `request` as a new run.
   */
  fork: z.object({ sourceRunId: z.string(), fromStep: z.int().min(0) }).optional(),
});
export type RunJobData = z.infer<typeof RunJobData>;

/**
 * How every run job is enqueued, whoever enqueues it (the API, the TypeScript client, BullMQ in another
 * language): queue `plainloop-runs` under the prefix `{<PLAINLOOP_REDIS_PREFIX>}`, job name `run`, job
 * id = run id (enqueueing the same run twice is a no-op), and these options. Attempts cover unexpected
 * worker errors (Redis blips, bugs): the step machine resumes from the last checkpoint, so a retry
 * repeats nothing that was saved. Model and tool failures never reach BullMQ; they end the run with a
 * named status. (Plain data, so this package stays free of BullMQ.)
 */
export const runJob = {
  queueName: 'plainloop-runs',
  jobName: 'run',
  options: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3_600 },
  },
} as const;
