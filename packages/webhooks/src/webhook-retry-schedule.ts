import type { BackoffStrategy } from 'bullmq';

/** Each wait is this many times the last: seconds, then minutes, then hours, as Standard Webhooks suggests. */
const growthFactor = 5;
/** Waits stop growing here, so a receiver down for a day still gets an attempt every few hours. */
export const maximumWebhookRetryDelayMs = 6 * 3_600_000;
/** Each wait moves by up to this share either way: deliveries that failed together do not retry together. */
const jitterShare = 0.2;
/** The first wait of a job that does not carry one (every job the enqueuer adds does). */
const defaultFirstDelayMs = 2_000;

/**
 * The wait before retry `retry` (1 for the first): `firstDelayMs` × 5^(retry − 1), at most six hours,
 * then moved by up to ±20% (`random` in [0, 1)). With the defaults, 2 s, 10 s, 50 s, about 4 min,
 * 21 min, 1.7 h, then 6 h: eight attempts span about eight hours.
 */
export function webhookRetryDelayMs(
  retry: number,
  firstDelayMs: number,
  random: () => number = Math.random,
): number {
  const planned = Math.min(firstDelayMs * growthFactor ** Math.max(retry - 1, 0), maximumWebhookRetryDelayMs);
  return Math.round(planned * (1 + jitterShare * (2 * random() - 1)));
}

/**
 * BullMQ's custom backoff for webhook jobs (`settings.backoffStrategy` of the webhook worker; the jobs
 * say `backoff: {type: 'webhook', delay}`). BullMQ passes the attempts made so far, the failed one
 * included: 1 when the first retry is due.
 */
export const webhookBackoffStrategy: BackoffStrategy = (attemptsMade, _type, _error, job) => {
  const backoff = job?.opts.backoff;
  const firstDelayMs =
    typeof backoff === 'object' ? (backoff.delay ?? defaultFirstDelayMs) : defaultFirstDelayMs;
  return webhookRetryDelayMs(attemptsMade, firstDelayMs);
};
