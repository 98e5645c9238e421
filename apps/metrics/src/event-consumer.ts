import { RunEvent } from '@plainloop/contracts';
import type { KeySchema, Redis, ScriptedRedis } from '@plainloop/redis';
import { withPlainloopScripts } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { type Increment, type IncrementOptions, incrementsOf } from './event-increments.ts';
import { seriesField } from './metric-fields.ts';

/** The consumer group of the metrics processes on the global event stream. */
export const metricsGroup = 'plainloop-metrics';

export type EventConsumerOptions = {
  /** A connection of its own: reads block on it. */
  redis: Redis;
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

const targetIndex: Record<Increment['target'], string> = { totals: '2', window: '3', tenantCost: '4' };

/**
 * Reads the global run event stream through a Redis consumer group and applies each event to the
 * aggregates in the same script that acknowledges it. Nothing is lost across restarts: an event read
 * but not applied stays pending and is read again (by this consumer when it comes back, or claimed by
 * another after `claimIdleMs`), and one that was applied is never applied again.
 */
export class EventConsumer {
  readonly #redis: ScriptedRedis;
  readonly #options: EventConsumerOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastClaim = 0;
  applied = 0;

  constructor(options: EventConsumerOptions) {
    this.#redis = withPlainloopScripts(options.redis);
    this.#options = options;
  }

  async start(): Promise<void> {
    const { keys } = this.#options;
    try {
      // From the start of the stream: events published before the first metrics process ever ran count too.
      await this.#redis.xgroup('CREATE', keys.events, metricsGroup, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
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

  /** One round: this consumer's pending events first, then idle ones of others, then new ones. */
  async #step(): Promise<void> {
    const { keys, consumer } = this.#options;
    const batch = this.#options.batchSize ?? 200;
    const pending = await this.#read('0');
    if (pending.length > 0) {
      await this.#apply(pending);
      return;
    }
    if (Date.now() - this.#lastClaim >= this.#options.claimIdleMs / 2) {
      this.#lastClaim = Date.now();
      const claimed = (await this.#redis.xautoclaim(
        keys.events,
        metricsGroup,
        consumer,
        this.#options.claimIdleMs,
        '0-0',
        'COUNT',
        batch,
      )) as [string, Entry[], string[]?];
      // Entries trimmed from the stream while pending: Redis drops them from the group and names them.
      const trimmed = claimed[2] ?? [];
      if (trimmed.length > 0) await this.#countUnreadable(trimmed);
      if (claimed[1].length > 0) {
        await this.#apply(claimed[1]);
        return;
      }
    }
    const fresh = await this.#read('>', this.#options.blockMs ?? 1_000);
    if (fresh.length > 0) await this.#apply(fresh);
  }

  async #read(from: '0' | '>', blockMs?: number): Promise<Entry[]> {
    const { keys, consumer } = this.#options;
    const batch = this.#options.batchSize ?? 200;
    const reply = (
      blockMs === undefined
        ? await this.#redis.xreadgroup(
            'GROUP',
            metricsGroup,
            consumer,
            'COUNT',
            batch,
            'STREAMS',
            keys.events,
            from,
          )
        : await this.#redis.xreadgroup(
            'GROUP',
            metricsGroup,
            consumer,
            'COUNT',
            batch,
            'BLOCK',
            blockMs,
            'STREAMS',
            keys.events,
            from,
          )
    ) as Array<[string, Entry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  async #apply(entries: Entry[]): Promise<void> {
    const { keys, logger } = this.#options;
    const argv: string[] = [];
    for (const [id, fields] of entries) {
      const increments = this.#incrementsOf(id, fields);
      argv.push(id, String(increments.length));
      for (const { target, field, amount } of increments)
        argv.push(targetIndex[target], field, String(amount));
    }
    const applied = await this.#redis.plainloopMetricsApply(
      keys.events,
      keys.metrics.totals,
      keys.metrics.window,
      keys.metrics.tenantCost,
      metricsGroup,
      ...argv,
    );
    this.applied += applied;
    logger.debug({ read: entries.length, applied }, 'run events applied');
  }

  async #countUnreadable(ids: readonly string[]): Promise<void> {
    const { keys, logger, increments } = this.#options;
    logger.warn({ ids }, 'run events trimmed from the stream before they were applied');
    const field = seriesField(increments.catalog.events, { type: 'unreadable' });
    await this.#redis.hincrbyfloat(keys.metrics.totals, field, ids.length);
  }

  #incrementsOf(id: string, fields: string[] | null): Increment[] {
    const payload = fields?.[fields.indexOf('event') + 1];
    const parsed = payload === undefined ? undefined : RunEvent.safeParse(safeJson(payload));
    if (parsed?.success) return incrementsOf(parsed.data, this.#options.increments);
    // Trimmed away before it was read, or written by a version with other event shapes: counted, not lost silently.
    this.#options.logger.warn({ id, reason: fields ? 'unreadable' : 'trimmed' }, 'run event not applied');
    const { catalog } = this.#options.increments;
    return [{ target: 'totals', field: seriesField(catalog.events, { type: 'unreadable' }), amount: 1 }];
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
