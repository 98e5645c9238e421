/**
 * Baseline (a): raw BullMQ. No-op jobs, worked by a plain `Worker` with the run jobs' options: what
 * BullMQ alone costs per job on this machine and this Redis.
 */
import { runJobOptions } from '@plainloop/redis';
import type { Queue } from 'bullmq';
import { baselineQueue, startBaselineWorker } from './baseline-worker.ts';

const rawBullmqQueueName = 'bench-noop';

export async function enqueueRawJobs(queue: Queue, jobs: number): Promise<void> {
  for (let start = 0; start < jobs; start += 1_000) {
    const count = Math.min(1_000, jobs - start);
    await queue.addBulk(
      Array.from({ length: count }, (_, offset) => ({
        name: 'noop',
        data: { index: start + offset },
        opts: { ...runJobOptions, jobId: `noop-${start + offset}` },
      })),
    );
  }
}

export function startRawBullmqWorker(url: string, prefix: string, concurrency: number) {
  return startBaselineWorker(rawBullmqQueueName, { url, prefix, concurrency }, async () => ({}));
}

export function rawBullmqQueue(connection: Queue['opts']['connection'], prefix: string): Queue {
  return baselineQueue(rawBullmqQueueName, connection, prefix);
}
