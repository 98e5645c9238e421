/** The headers object the SDKs expose on errors (a fetch `Headers`). */
type HeaderReader = { get(name: string): string | null };

/**
 * How long a provider asked us to wait: `retry-after-ms`, else `retry-after` in seconds or as an HTTP
 * date. Returns undefined when neither is there or makes sense.
 */
export function retryAfterMsFromHeaders(
  headers: HeaderReader | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return Math.round(milliseconds);
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}
