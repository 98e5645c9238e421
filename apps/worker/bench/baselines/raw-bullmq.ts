/**
 * Baseline (a): raw BullMQ. No-op jobs, worked by a plain `Worker` with the run jobs' options: what
 * BullMQ alone costs per job on this machine and this Redis.
 */
import { connectRedis, runJobOptions } from '@plainloop/redis';
import { Queue, Worker } from 'bullmq';

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

export async function startRawBullmqWorker(
  url: string,
  prefix: string,
  concurrency: number,
): Promise<{ close(): Promise<void> }> {
  const connection = await connectRedis(url, 'worker');
  const worker = new Worker(rawBullmqQueueName, async () => ({}), {
    connection,
    prefix: `{${prefix}}`,
    concurrency,
  });
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}

export function rawBullmqQueue(connection: Queue['opts']['connection'], prefix: string): Queue {
  return new Queue(rawBullmqQueueName, { connection, prefix: `{${prefix}}` });
}
