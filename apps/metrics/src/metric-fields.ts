import type { EventMetric } from './metric-catalog.ts';

/**
 * How a metric's series are named as fields of the totals hash: `name|["label values"]` for a counter,
 * plus `|<bucket>` for a histogram (`0`..`n-1` the buckets, `inf` past the last, `sum`, `count`).
 * Bucket fields count each observation once, in its own bucket; `/metrics` adds them up into the
 * cumulative `le` buckets Prometheus expects.
 */
export function seriesField(metric: EventMetric, labels: Readonly<Record<string, string>>): string {
  return `${metric.name}|${JSON.stringify(metric.labels.map((label) => labels[label] ?? ''))}`;
}

export type ParsedField = { name: string; labelValues: string[]; bucket: string | undefined };

export function parseField(field: string): ParsedField | undefined {
  const first = field.indexOf('|');
  if (first < 0) return undefined;
  const name = field.slice(0, first);
  const rest = field.slice(first + 1);
  // Label values are a JSON array of strings; the bucket (if any) follows the closing bracket.
  const close = rest.lastIndexOf(']');
  try {
    const labelValues = JSON.parse(rest.slice(0, close + 1)) as string[];
    const tail = rest.slice(close + 1);
    return { name, labelValues, bucket: tail.startsWith('|') ? tail.slice(1) : undefined };
  } catch {
    return undefined;
  }
}

/** The bucket an observation falls in: the first upper bound it does not exceed, or `inf`. */
export function bucketOf(buckets: readonly number[], value: number): string {
  const index = buckets.findIndex((bound) => value <= bound);
  return index < 0 ? 'inf' : String(index);
}
