import { type KeySchema, pipelinePerSlot, type RedisConnection } from '@plainloop/redis';
import type { Registry } from 'prom-client';
import type { Catalog, EventMetric } from './metric-catalog.ts';
import { type ParsedField, parseField } from './metric-fields.ts';

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * The event metrics as prom-client sees them: metric objects whose values come from the totals hash in
 * Redis, read once per scrape (`refresh`). prom-client formats them with the process's own metrics;
 * the counting itself happened in Redis, atomically with each event's acknowledgement.
 */
export class DurableMetrics {
  readonly #redis: RedisConnection;
  readonly #keys: KeySchema;
  #byMetric = new Map<string, Array<{ parsed: ParsedField; value: number }>>();

  constructor(redis: RedisConnection, keys: KeySchema, catalog: Catalog, registry: Registry) {
    this.#redis = redis;
    this.#keys = keys;
    for (const metric of Object.values(catalog)) {
      registry.registerMetric({
        name: metric.name,
        help: metric.help,
        type: metric.type,
        get: async () => ({
          name: metric.name,
          help: metric.help,
          type: metric.type,
          aggregator: 'sum',
          values: this.#samplesOf(metric),
        }),
      } as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }

  /**
   * Reads the totals once, before prom-client asks each metric for its values: every shard's, added
   * up field by field.
   */
  async refresh(): Promise<void> {
    const replies = await pipelinePerSlot(
      this.#redis,
      this.#keys.metricsAggregates.map(({ totals }) => totals),
      (reads, key) => reads.hgetall(key),
    );
    const totals = new Map<string, number>();
    for (const [, fields] of replies) {
      for (const [field, text] of Object.entries((fields ?? {}) as Record<string, string>))
        totals.set(field, (totals.get(field) ?? 0) + Number(text));
    }
    const byMetric = new Map<string, Array<{ parsed: ParsedField; value: number }>>();
    for (const [field, value] of totals) {
      const parsed = parseField(field);
      if (parsed === undefined) continue;
      const list = byMetric.get(parsed.name) ?? [];
      list.push({ parsed, value });
      byMetric.set(parsed.name, list);
    }
    this.#byMetric = byMetric;
  }

  #samplesOf(metric: EventMetric): Sample[] {
    const series = this.#byMetric.get(metric.name) ?? [];
    const labelsOf = (values: string[]) =>
      Object.fromEntries(metric.labels.map((label, index) => [label, values[index] ?? '']));
    if (metric.type === 'counter') {
      return series.map(({ parsed, value }) => ({ labels: labelsOf(parsed.labelValues), value }));
    }
    // A histogram: group bucket, sum and count fields by label set, then make the buckets cumulative.
    const bounds = metric.buckets ?? [];
    const groups = new Map<string, { labels: string[]; buckets: number[]; sum: number; count: number }>();
    for (const { parsed, value } of series) {
      const key = JSON.stringify(parsed.labelValues);
      const group = groups.get(key) ?? {
        labels: parsed.labelValues,
        buckets: new Array<number>(bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      if (parsed.bucket === 'sum') group.sum = value;
      else if (parsed.bucket === 'count') group.count = value;
      else if (parsed.bucket === 'inf') group.buckets[bounds.length] = value;
      else if (parsed.bucket !== undefined) group.buckets[Number(parsed.bucket)] = value;
      groups.set(key, group);
    }
    const samples: Sample[] = [];
    for (const group of groups.values()) {
      const labels = labelsOf(group.labels);
      let cumulative = 0;
      bounds.forEach((bound, index) => {
        cumulative += group.buckets[index] ?? 0;
        samples.push({
          labels: { ...labels, le: bound },
          value: cumulative,
          metricName: `${metric.name}_bucket`,
        });
      });
      samples.push({
        labels: { ...labels, le: '+Inf' },
        value: group.count,
        metricName: `${metric.name}_bucket`,
      });
      samples.push({ labels, value: group.sum, metricName: `${metric.name}_sum` });
      samples.push({ labels, value: group.count, metricName: `${metric.name}_count` });
    }
    return samples;
  }
}
