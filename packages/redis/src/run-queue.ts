import { runJob } from '@plainloop/contracts';
import { type JobsOptions, Queue } from 'bullmq';
import type { RedisConnection } from './create-redis-client.ts';
import { type KeySchema, queueNames } from './key-schema.ts';

/** Options every run job gets, whoever enqueues it (the contract is `runJob` in contracts). */
export const runJobOptions = runJob.options satisfies JobsOptions;

export function createRunQueue(connection: RedisConnection, keys: KeySchema): Queue {
  return new Queue(queueNames.runs, { connection, prefix: keys.queuePrefix });
}
