import type { KeySchema, RedisConnection } from '@plainloop/redis';
import { z } from 'zod';

/**
 * How the delivery of a run's webhook went, as kept beside the run (`…:run:{<runId>}:webhook`).
 * `pending` while attempts remain (one may be in flight); `attempts` counts the POSTs started; the last
 * fields describe the latest attempt.
 */
export const WebhookDelivery = z.object({
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.int().min(0),
  /** The receiver's status code at the latest attempt, when it answered. */
  lastStatusCode: z.int().optional(),
  /** Why the latest attempt failed. */
  lastError: z.string().optional(),
  deliveredAt: z.iso.datetime().optional(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** The delivery state of a run's webhook; undefined before the first attempt (or once the run expired). */
export async function readWebhookDelivery(
  redis: RedisConnection,
  keys: KeySchema,
  tenantId: string,
  runId: string,
): Promise<WebhookDelivery | undefined> {
  const stored = await redis.hgetall(keys.run(tenantId, runId).webhook);
  if (stored.status === undefined) return undefined;
  return WebhookDelivery.parse({
    status: stored.status,
    attempts: Number(stored.attempts ?? 0),
    ...(stored.lastStatusCode === undefined ? {} : { lastStatusCode: Number(stored.lastStatusCode) }),
    ...(stored.lastError === undefined ? {} : { lastError: stored.lastError }),
    ...(stored.deliveredAt === undefined ? {} : { deliveredAt: stored.deliveredAt }),
  });
}

export type AttemptOutcome =
  | { kind: 'delivered'; statusCode: number; at: number }
  | { kind: 'failed'; final: boolean; statusCode?: number; error: string };

/**
 * Writes the delivery state of one run. Each write also sets the expiry, so the record lasts as long as
 * the run it describes (it is written after the run's keys got theirs).
 */
export class WebhookDeliveryRecord {
  readonly #redis: RedisConnection;
  readonly #key: string;
  readonly #retentionSeconds: number;

  constructor(redis: RedisConnection, key: string, retentionSeconds: number) {
    this.#redis = redis;
    this.#key = key;
    this.#retentionSeconds = retentionSeconds;
  }

  /** Counts an attempt before it is made, so one cut short by a crash still shows. */
  async attemptStarted(): Promise<void> {
    await this.#redis
      .multi()
      .hset(this.#key, 'status', 'pending')
      .hincrby(this.#key, 'attempts', 1)
      .expire(this.#key, this.#retentionSeconds)
      .exec();
  }

  async attemptEnded(outcome: AttemptOutcome): Promise<void> {
    const write = this.#redis.multi();
    if (outcome.kind === 'delivered') {
      write
        .hset(this.#key, {
          status: 'delivered',
          lastStatusCode: outcome.statusCode,
          deliveredAt: new Date(outcome.at).toISOString(),
        })
        .hdel(this.#key, 'lastError');
    } else {
      write.hset(this.#key, { status: outcome.final ? 'failed' : 'pending', lastError: outcome.error });
      if (outcome.statusCode === undefined) write.hdel(this.#key, 'lastStatusCode');
      else write.hset(this.#key, 'lastStatusCode', outcome.statusCode);
    }
    await write.expire(this.#key, this.#retentionSeconds).exec();
  }
}
