import { type JobsOptions, Queue } from 'bullmq';
import type { RedisConnection } from './create-redis-client.ts';
import { type KeySchema, queueNames } from './key-schema.ts';

/**
 * A job on `plainloop-webhooks`: which run's result to deliver. Only the run's address travels; the
 * result is read from the run when the job is taken, so every attempt sends what is stored.
 */
export type WebhookJobData = { tenantId: string; runId: string };

export type WebhookRetrySettings = {
  /** Deliveries tried in all, the first included. */
  attempts: number;
  /** The first retry's delay; each later one is five times the one before (see `webhookBackoffType`). */
  backoffMs: number;
};

export const webhookJobName = 'deliver';

/**
 * The custom BullMQ backoff of webhook jobs: BullMQ's own strategies double the delay, which spends a
 * receiver's attempts within minutes. The webhook worker registers the schedule under this name
 * (`settings.backoffStrategy`); the job's `delay` is its first step.
 */
export const webhookBackoffType = 'webhook';

/**
 * `jobId` is the run id, so a run's webhook is enqueued once however many processes try (the worker
 * that finished it, the same worker again after a crash, the API that cancelled it). Completed jobs are
 * kept for a day for that reason: while the job exists, enqueueing again is a no-op.
 */
export function webhookJobOptions(runId: string, retry: WebhookRetrySettings): JobsOptions {
  return {
    jobId: runId,
    attempts: retry.attempts,
    backoff: { type: webhookBackoffType, delay: retry.backoffMs },
    removeOnComplete: { age: 24 * 3_600 },
    removeOnFail: { age: 7 * 24 * 3_600 },
  };
}

export function createWebhookQueue(connection: RedisConnection, keys: KeySchema): Queue {
  return new Queue(queueNames.webhooks, { connection, prefix: keys.queuePrefix });
}

export type WebhookEnqueuer = {
  /** Queues the delivery of one ended run's result; a no-op for a run whose delivery exists. */
  enqueue(run: WebhookJobData): Promise<void>;
  /** Closes the queue, if one was made; the connection stays its owner's. */
  close(): Promise<void>;
};

/**
 * What a run environment uses when a run with a webhook ends. The queue is made on first use, so a
 * process whose runs never have a webhook holds no queue object; its owner closes it on shutdown.
 */
export function webhookEnqueuer(
  connection: RedisConnection,
  keys: KeySchema,
  retry: WebhookRetrySettings,
): WebhookEnqueuer {
  let queue: Queue | undefined;
  return {
    async enqueue({ tenantId, runId }) {
      // A delivery already made (or under way) has its record beside the run for the run's retention,
      // longer than its job is kept: enqueueing again after the job's removal would send it twice.
      if ((await connection.exists(keys.run(tenantId, runId).webhook)) === 1) return;
      if (queue === undefined) {
        queue = createWebhookQueue(connection, keys);
        // The connection's owner reports Redis errors; without a listener the queue would print them.
        queue.on('error', () => undefined);
      }
      const data: WebhookJobData = { tenantId, runId };
      await queue.add(webhookJobName, data, webhookJobOptions(runId, retry));
    },
    async close() {
      await queue?.close();
      queue = undefined;
    },
  };
}
