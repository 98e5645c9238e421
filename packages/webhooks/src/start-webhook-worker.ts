import { queueNames } from '@plainloop/redis';
import { Worker } from 'bullmq';
import { type WebhookDeliveryDependencies, webhookProcessor } from './deliver-webhook.ts';
import { webhookBackoffStrategy } from './webhook-retry-schedule.ts';

export type StartWebhookWorkerOptions = WebhookDeliveryDependencies & {
  /** Deliveries in flight at once in this process. */
  concurrency: number;
  /** The BullMQ worker's name, for telling workers apart in Redis. */
  name?: string;
};

/**
 * The BullMQ Worker on `plainloop-webhooks`, beside the run queue under the same prefix. Deliveries
 * wait on receivers, not on models, so they have their own queue and concurrency: a slow receiver never
 * holds a slot a run could use. Close it with `close()`; a delivery in flight finishes first (it is
 * bounded by the delivery timeout).
 */
export async function startWebhookWorker(options: StartWebhookWorkerOptions): Promise<Worker> {
  const processor = webhookProcessor(options);
  const worker = new Worker(queueNames.webhooks, processor, {
    connection: options.redis,
    prefix: options.keys.queuePrefix,
    concurrency: options.concurrency,
    // The jobs' `backoff: {type: 'webhook'}`: waits that grow fivefold, up to hours (BullMQ's own
    // exponential backoff would spend every attempt within minutes).
    settings: { backoffStrategy: webhookBackoffStrategy },
    ...(options.name ? { name: options.name } : {}),
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'webhook worker error'));
  await worker.waitUntilReady();
  return worker;
}
