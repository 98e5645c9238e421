import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy, parseRetryAfter, retryDelayMs } from './retry-policy.ts';

describe('the retry policy', () => {
  it('reads retry-after as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('waits what the server asked, up to its limit, and otherwise backs off exponentially with full jitter', () => {
    expect(retryDelayMs(defaultRetryPolicy, 0, 1_500)).toBe(1_500);
    expect(retryDelayMs(defaultRetryPolicy, 0, 60_000)).toBeUndefined();
    expect(retryDelayMs(defaultRetryPolicy, 0, undefined, () => 1)).toBe(250);
    expect(retryDelayMs(defaultRetryPolicy, 3, undefined, () => 1)).toBe(2_000);
    expect(retryDelayMs(defaultRetryPolicy, 10, undefined, () => 1)).toBe(5_000);
    expect(retryDelayMs(defaultRetryPolicy, 3, undefined, () => 0.5)).toBe(1_000);
  });
});
