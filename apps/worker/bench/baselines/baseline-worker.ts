/** What both baselines share: a plain BullMQ Worker and Queue under the bench's prefix. */
import { connectRedis } from '@plainloop/redis';
import { type Job, Queue, Worker } from 'bullmq';

export async function startBaselineWorker(
  queueName: string,
  options: { url: string; prefix: string; concurrency: number },
  processor: (job: Job) => Promise<unknown>,
): Promise<{ close(): Promise<void> }> {
  const connection = await connectRedis(options.url, 'worker');
  const worker = new Worker(queueName, processor, {
    connection,
    prefix: `{${options.prefix}}`,
    concurrency: options.concurrency,
  });
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}

export function baselineQueue(queueName: string, connection: Queue['opts']['connection'], prefix: string) {
  return new Queue(queueName, { connection, prefix: `{${prefix}}` });
}
