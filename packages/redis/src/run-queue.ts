import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type KeySchema, queueNames } from './key-schema.ts';

/**
 * Options every run job gets, whoever enqueues it. `jobId` is the run id, so enqueueing the same run
 * twice is a no-op. Attempts cover unexpected worker errors (Redis blips, bugs): the step machine
 * resumes from the last checkpoint, so a retry repeats nothing that was saved. Model and tool failures
 * never reach BullMQ; they end the run with a named status.
 */
export const runJobOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3_600 },
} as const satisfies JobsOptions;

export function createRunQueue(connection: Redis, keys: KeySchema): Queue {
  return new Queue(queueNames.runs, { connection, prefix: keys.queuePrefix });
}
