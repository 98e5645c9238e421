import { RunEvent } from '@plainloop/contracts';
import type { KeySchema, MetricsAggregateKeys, RedisConnection, ScriptedRedis } from '@plainloop/redis';
import { readStreams, withPlainloopScripts } from '@plainloop/redis';
import { eventTextsOf, type Logger } from '@plainloop/telemetry';
import { type Increment, type IncrementOptions, incrementsOf } from './event-increments.ts';
import { seriesField } from './metric-fields.ts';

/** The consumer group of the metrics processes on each shard's event stream. */
export const metricsGroup = 'plainloop-metrics';

export type EventConsumerOptions = {
  /** A connection of its own: reads block on it. */
  redis: RedisConnection;
  keys: KeySchema;
  /** This process's name in the group; a restarted process with the same name takes up its pending events. */
  consumer: string;
  increments: IncrementOptions;
  /** Events another consumer read but has not acknowledged for this long are taken over. */
  claimIdleMs: number;
  logger: Logger;
  batchSize?: number;
  blockMs?: number;
};

type Entry = [id: string, fields: string[] | null];

/** An event stream and the aggregates its events are added to, in its slot. */
export type EventSource = { stream: string; aggregates: MetricsAggregateKeys };

const targetIndex: Record<Increment['target'], string> = { totals: '2', window: '3', tenantCost: '4' };

/**
 * The streams the metrics process reads: every shard's, and the global stream of the layout before
 * shards while it exists (an upgraded deployment's last events are counted, into their old aggregates).
 */
export async function eventSourcesOf(redis: RedisConnection, keys: KeySchema): Promise<EventSource[]> {
  const sources: EventSource[] = keys.shards.map((shard) => ({
    stream: shard.events,
    aggregates: shard.metrics,
  }));
  if ((await redis.exists(keys.legacy.events)) === 1)
    sources.push({ stream: keys.legacy.events, aggregates: keys.legacy.metrics });
  return sources;
}

/**
 * Reads the run event streams of every shard through a Redis consumer group each, and applies each
 * entry's events to the shard's aggregates in the same script that acknowledges the entry. Nothing is
 * lost across restarts: an entry read but not applied stays pending and is read again (by this
 * consumer when it comes back, or claimed by another after `claimIdleMs`), and one that was applied is
 * never applied again.
 */
export class EventConsumer {
  readonly #redis: ScriptedRedis;
  readonly #options: EventConsumerOptions;
  #sources: EventSource[] = [];
  #running = false;
  /** Ends a read in flight when the consumer stops (on a cluster a read may otherwise outlive its client). */
  #stopping = new AbortController();
  #loop: Promise<void> | undefined;
  #lastClaim = 0;
  /** Events applied by this process (an entry holds one or many). */
  applied = 0;

  constructor(options: EventConsumerOptions) {
    this.#redis = withPlainloopScripts(options.redis);
    this.#options = options;
  }

  async start(): Promise<void> {
    const { keys, redis } = this.#options;
    this.#sources = await eventSourcesOf(redis, keys);
    for (const { stream } of this.#sources) {
      try {
        // From the start of the stream: events written before the first metrics process ever ran count too.
        await this.#redis.xgroup('CREATE', stream, metricsGroup, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
    }
    this.#running = true;
    this.#stopping = new AbortController();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping.abort(new Error('the consumer stopped'));
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { logger } = this.#options;
    while (this.#running) {
      try {
        await this.#step();
      } catch (error) {
        if (!this.#running) return;
        logger.warn({ err: error }, 'could not read or apply run events; trying again');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** One round: this consumer's pending entries first, then idle ones of others, then new ones. */
  async #step(): Promise<void> {
    const { consumer } = this.#options;
    const batch = this.#options.batchSize ?? 200;
    const pending = await this.#read('0');
    if (pending.size > 0) {
      await this.#applyAll(pending);
      return;
    }
    if (Date.now() - this.#lastClaim >= this.#options.claimIdleMs / 2) {
      this.#lastClaim = Date.now();
      const claimedAll = new Map<EventSource, Entry[]>();
      for (const source of this.#sources) {
        const claimed = (await this.#redis.xautoclaim(
          source.stream,
          metricsGroup,
          consumer,
          this.#options.claimIdleMs,
          '0-0',
          'COUNT',
          batch,
        )) as [string, Entry[], string[]?];
        // Entries trimmed from the stream while pending: Redis drops them from the group and names them.
        const trimmed = claimed[2] ?? [];
        if (trimmed.length > 0) await this.#countUnreadable(source, trimmed);
        if (claimed[1].length > 0) claimedAll.set(source, claimed[1]);
      }
      if (claimedAll.size > 0) {
        await this.#applyAll(claimedAll);
        return;
      }
    }
    const fresh = await this.#read('>', this.#options.blockMs ?? 1_000);
    if (fresh.size > 0) await this.#applyAll(fresh);
  }

  /** One read over every source's stream: this consumer's pending entries (`0`) or new ones (`>`). */
  async #read(from: '0' | '>', blockMs?: number): Promise<Map<EventSource, Entry[]>> {
    const { consumer } = this.#options;
    const batch = this.#options.batchSize ?? 200;
    const streams = this.#sources.map(({ stream }) => stream);
    const ids = this.#sources.map(() => from);
    const reply = await readStreams(
      this.#redis,
      'xreadgroup',
      ['GROUP', metricsGroup, consumer, 'COUNT', batch],
      streams,
      ids,
      blockMs,
      this.#stopping.signal,
    );
    const read = new Map<EventSource, Entry[]>();
    for (const [stream, entries] of reply) {
      const source = this.#sources.find((each) => each.stream === stream);
      if (source && entries.length > 0) read.set(source, entries);
    }
    return read;
  }

  async #applyAll(read: Map<EventSource, Entry[]>): Promise<void> {
    for (const [source, entries] of read) await this.#apply(source, entries);
  }

  async #apply(source: EventSource, entries: Entry[]): Promise<void> {
    const { logger } = this.#options;
    const argv: string[] = [];
    for (const [id, fields] of entries) {
      const { increments, count } = this.#incrementsOf(id, fields);
      argv.push(id, String(count), String(increments.length));
      for (const { target, field, amount } of increments)
        argv.push(targetIndex[target], field, String(amount));
    }
    const { aggregates } = source;
    const applied = await this.#redis.plainloopMetricsApply(
      source.stream,
      aggregates.totals,
      aggregates.window,
      aggregates.tenantCost,
      metricsGroup,
      ...argv,
    );
    this.applied += applied;
    logger.debug({ entries: entries.length, applied }, 'run events applied');
  }

  async #countUnreadable(source: EventSource, ids: readonly string[]): Promise<void> {
    const { logger, increments } = this.#options;
    logger.warn({ ids }, 'run events trimmed from the stream before they were applied');
    const field = seriesField(increments.catalog.events, { type: 'unreadable' });
    await this.#redis.hincrbyfloat(source.aggregates.totals, field, ids.length);
  }

  /** What an entry's events add up to, merged by field: one increment per series however many events. */
  #incrementsOf(id: string, fields: string[] | null): { increments: Increment[]; count: number } {
    const merged = new Map<string, Increment>();
    const add = (increment: Increment) => {
      const key = `${increment.target}|${increment.field}`;
      const known = merged.get(key);
      if (known) known.amount += increment.amount;
      else merged.set(key, { ...increment });
    };
    const texts = eventTextsOf(fields);
    const { catalog } = this.#options.increments;
    if (texts.length === 0) {
      // Trimmed away before it was read: counted, not lost silently.
      this.#options.logger.warn({ id, reason: 'trimmed' }, 'run event not applied');
      add({ target: 'totals', field: seriesField(catalog.events, { type: 'unreadable' }), amount: 1 });
      return { increments: [...merged.values()], count: 1 };
    }
    for (const text of texts) {
      const parsed = RunEvent.safeParse(safeJson(text));
      if (parsed.success)
        for (const increment of incrementsOf(parsed.data, this.#options.increments)) add(increment);
      else {
        // Written by a version with other event shapes: counted, not lost silently.
        this.#options.logger.warn({ id, reason: 'unreadable' }, 'run event not applied');
        add({ target: 'totals', field: seriesField(catalog.events, { type: 'unreadable' }), amount: 1 });
      }
    }
    return { increments: [...merged.values()], count: texts.length };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
