import { RunEvent } from '@plainloop/contracts';
import { type KeySchema, type RedisConnection, readStreams } from '@plainloop/redis';

export type StoredRunEvent = { id: string; event: RunEvent };

/** Where a reader of the shards' streams stands: the last entry id read of each shard's stream. */
export type ShardCursor = readonly string[];

/**
 * The events of a stream entry, as JSON texts: a shard's stream holds a write's events (or a whole
 * commit call's) as JSON lines in field `events`; a run's stream, and the global stream of the layout
 * before shards, one event in field `event`.
 */
export function eventTextsOf(fields: readonly string[] | null): string[] {
  if (fields === null) return [];
  const many = fields.indexOf('events');
  if (many !== -1) return (fields[many + 1] ?? '').split('\n');
  const one = fields.indexOf('event');
  return one === -1 ? [] : [fields[one + 1] ?? 'null'];
}

/**
 * Reads run events back. They are written by the checkpoints they describe (`RunStore`, in the same
 * atomic step), to the run's own stream and to its shard's: a reader never sees an event for work that
 * was not saved, and a saved step never lacks its events.
 */
export class RunEventStream {
  readonly #redis: RedisConnection;
  readonly #keys: KeySchema;

  constructor(redis: RedisConnection, keys: KeySchema) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Reads the run's own events after `afterId` (exclusive), oldest first. */
  async readRun(tenantId: string, runId: string, afterId = '-', count = 1_000): Promise<StoredRunEvent[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    const entries = await this.#redis.xrange(
      this.#keys.run(tenantId, runId).events,
      start,
      '+',
      'COUNT',
      count,
    );
    return entries.map(([id, fields]) => ({ id, event: parseEvent(eventTextsOf(fields)[0] ?? 'null') }));
  }

  /** Every event the run's stream holds, oldest first, read a page at a time. */
  async readWholeRun(tenantId: string, runId: string): Promise<StoredRunEvent[]> {
    const pageSize = 1_000;
    const all: StoredRunEvent[] = [];
    for (let after = '-'; ; ) {
      const page = await this.readRun(tenantId, runId, after, pageSize);
      all.push(...page);
      const last = page.at(-1);
      if (page.length < pageSize || last === undefined) return all;
      after = last.id;
    }
  }

  /** A cursor at `afterId` in every shard's stream (`$` for only new events, `0` for all of them). */
  shardCursor(afterId: string): ShardCursor {
    return this.#keys.shards.map(() => afterId);
  }

  /**
   * Waits up to `blockMs` for events of any run after `cursor`, in every shard's stream; returns them
   * (in the order they happened) with the cursor to read on from. Each event's id is its entry's.
   */
  async readShards(
    cursor: ShardCursor,
    blockMs: number,
    count = 500,
  ): Promise<{ events: StoredRunEvent[]; cursor: ShardCursor }> {
    const streams = this.#keys.shards.map((shard) => shard.events);
    const reply = await readStreams(this.#redis, 'xread', ['COUNT', count], streams, cursor, blockMs);
    const next = [...cursor];
    const events: StoredRunEvent[] = [];
    for (const [stream, entries] of reply) {
      const shard = streams.indexOf(stream);
      for (const [id, fields] of entries) {
        next[shard] = id;
        for (const text of eventTextsOf(fields)) events.push({ id, event: parseEvent(text) });
      }
    }
    events.sort((left, right) => left.event.at - right.event.at);
    return { events, cursor: next };
  }
}

function parseEvent(text: string): RunEvent {
  return RunEvent.parse(JSON.parse(text));
}
