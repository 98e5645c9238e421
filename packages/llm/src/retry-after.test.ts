import { describe, expect, it } from 'vitest';
import { retryAfterMsFromHeaders } from './retry-after.ts';

const headers = (entries: Record<string, string>) => new Headers(entries);

describe('retryAfterMsFromHeaders', () => {
  it('prefers retry-after-ms', () => {
    expect(retryAfterMsFromHeaders(headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
  });

  it('reads retry-after in seconds', () => {
    expect(retryAfterMsFromHeaders(headers({ 'retry-after': '7' }))).toBe(7000);
  });

  it('reads retry-after as an HTTP date', () => {
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(retryAfterMsFromHeaders(headers({ 'retry-after': 'Wed, 25 Nov 2026 10:00:30 GMT' }), now)).toBe(
      30_000,
    );
  });

  it('ignores what it cannot read', () => {
    expect(retryAfterMsFromHeaders(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMsFromHeaders(undefined)).toBeUndefined();
  });
});
