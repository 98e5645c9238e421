import type { MinimalJob } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  maximumWebhookRetryDelayMs,
  webhookBackoffStrategy,
  webhookRetryDelayMs,
} from './webhook-retry-schedule.ts';

const middle = () => 0.5;
const lowest = () => 0;
/** The bound Math.random approaches but never returns. */
const highest = () => 1;
const hour = 3_600_000;

describe('webhookRetryDelayMs', () => {
  it('waits five times longer at each retry, from the first delay, up to six hours', () => {
    const schedule = [1, 2, 3, 4, 5, 6, 7, 8].map((retry) => webhookRetryDelayMs(retry, 2_000, middle));
    expect(schedule).toEqual([2_000, 10_000, 50_000, 250_000, 1_250_000, 6_250_000, 6 * hour, 6 * hour]);
    expect(maximumWebhookRetryDelayMs).toBe(6 * hour);
  });

  it('spreads the default eight attempts over hours, not minutes', () => {
    const total = [1, 2, 3, 4, 5, 6, 7].reduce(
      (sum, retry) => sum + webhookRetryDelayMs(retry, 2_000, lowest),
      0,
    );
    // Even with every wait at its shortest: BullMQ's doubling from 2 s would have ended within 5 minutes.
    expect(total).toBeGreaterThan(6 * hour);
  });

  it('moves each wait by at most 20% either way', () => {
    expect(webhookRetryDelayMs(2, 2_000, lowest)).toBe(8_000);
    expect(webhookRetryDelayMs(2, 2_000, highest)).toBe(12_000);
    expect(webhookRetryDelayMs(8, 2_000, lowest)).toBe(17_280_000);
    expect(webhookRetryDelayMs(8, 2_000, highest)).toBe(25_920_000);
    for (let sample = 0; sample < 1_000; sample += 1) {
      const delay = webhookRetryDelayMs(3, 2_000);
      expect(delay).toBeGreaterThanOrEqual(40_000);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  it('stays at the cap however many attempts are configured', () => {
    expect(webhookRetryDelayMs(1_000, 2_000, middle)).toBe(6 * hour);
  });
});

describe('webhookBackoffStrategy', () => {
  const jobWith = (backoff: MinimalJob['opts']['backoff']) => ({ opts: { backoff } }) as MinimalJob;

  it('takes the first delay from the job’s backoff and the retry from the attempts made', () => {
    const job = jobWith({ type: 'webhook', delay: 1_000 });
    // BullMQ counts the attempt that just failed: 1 when the first retry is due.
    expect(webhookBackoffStrategy(1, 'webhook', new Error('503'), job)).toBeGreaterThanOrEqual(800);
    expect(webhookBackoffStrategy(1, 'webhook', new Error('503'), job)).toBeLessThanOrEqual(1_200);
    expect(webhookBackoffStrategy(3, 'webhook', new Error('503'), job)).toBeGreaterThanOrEqual(20_000);
    expect(webhookBackoffStrategy(3, 'webhook', new Error('503'), job)).toBeLessThanOrEqual(30_000);
  });

  it('starts at 2 s for a job without a delay', () => {
    const delay = webhookBackoffStrategy(1, 'webhook', undefined, jobWith({ type: 'webhook' }));
    expect(delay).toBeGreaterThanOrEqual(1_600);
    expect(delay).toBeLessThanOrEqual(2_400);
  });
});
