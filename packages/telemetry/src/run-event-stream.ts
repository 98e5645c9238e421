import { maxIterationsCeiling, RunEvent } from '@plainloop/contracts';
import type { KeySchema, Redis } from '@plainloop/redis';

export type StreamLimits = {
  /** Entries kept in each run's own stream (approximate trim). */
  perRun: number;
  /** Entries kept in the global stream (approximate trim). */
  global: number;
};

/**
 * A run's stream keeps every event of the longest run allowed: a step makes three events or more
 * (`step.started`, `llm.called`, one per tool call), so ten per step leaves room for parallel calls.
 */
const defaultLimits: StreamLimits = { perRun: maxIterationsCeiling * 10, global: 100_000 };

export type StoredRunEvent = { id: string; event: RunEvent };

/**
 * Appends every run event to the run's stream and to the global stream, both trimmed so Redis memory
 * stays bounded. Events are published after the checkpoint they describe, so a reader never sees an
 * event for work that was not saved; a crash between the two can lose the event, never the work.
 */
export class RunEventStream {
  readonly #redis: Redis;
  readonly #keys: KeySchema;
  readonly #limits: StreamLimits;

  constructor(redis: Redis, keys: KeySchema, limits: StreamLimits = defaultLimits) {
    this.#redis = redis;
    this.#keys = keys;
    this.#limits = limits;
  }

  async publish(event: RunEvent): Promise<void> {
    const payload = JSON.stringify(event);
    const runStream = this.#keys.run(event.tenantId, event.runId).events;
    // Two commands, not a transaction: the two streams live in different cluster slots.
    await Promise.all([
      this.#redis.xadd(runStream, 'MAXLEN', '~', this.#limits.perRun, '*', 'event', payload),
      this.#redis.xadd(this.#keys.events, 'MAXLEN', '~', this.#limits.global, '*', 'event', payload),
    ]);
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
    return entries.map(([id, fields]) => parseEntry(id, fields));
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

  /** Waits up to `blockMs` for global events after `afterId` (`$` for only new ones). */
  async readGlobal(afterId: string, blockMs: number, count = 500): Promise<StoredRunEvent[]> {
    const reply = await this.#redis.xread(
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.#keys.events,
      afterId,
    );
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => parseEntry(id, fields));
  }
}

function parseEntry(id: string, fields: string[]): StoredRunEvent {
  const payload = fields[fields.indexOf('event') + 1] ?? 'null';
  return { id, event: RunEvent.parse(JSON.parse(payload)) };
}
