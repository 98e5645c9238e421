import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

const settings = {
  attemptsPerModel: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxInlineWaitMs: 2_000,
  maxCooldownMs: 600_000,
};

describe('backoffDelay', () => {
  it('doubles its ceiling per attempt up to the cap, with full jitter below it', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, settings, () => 0.999_999))).toEqual([
      499, 999, 1_999, 3_999, 7_999, 7_999,
    ]);
    expect(backoffDelay(3, settings, () => 0)).toBe(0);
    expect(backoffDelay(2, settings, () => 0.5)).toBe(500);
  });
});
