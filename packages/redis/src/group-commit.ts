import { Packr } from 'msgpackr';
import type { KeySchema } from './key-schema.ts';
import type { ScriptedRedis } from './lua-scripts.ts';

/** One run's checkpoint, as `commit-runs.lua` takes it. */
export type RunWrite = {
  /** The run's state key (its other keys are named after it). */
  key: string;
  shard: number;
  expectedVersion: number;
  writeId: string;
  /** Keep the run's keys this long from now on; 0 keeps them without expiry. */
  expireSeconds: number;
  /** Field/value pairs of the state hash to set. */
  set: readonly string[];
  deleted: readonly string[];
  turns: readonly string[];
  ledger: { callId: string; record: string } | undefined;
  events: readonly string[];
};

export type WriteOutcome = {
  /** 1 written, 0 fenced out (another writer moved the run on), -1 the run is gone. */
  outcome: 1 | 0 | -1;
  /** The new version when written, the current one when fenced out. */
  version: number;
  cancelRequested: boolean;
};

export type GroupCommitSettings = {
  /**
   * `per-shard`: one call per shard, each touching one hash slot, as Redis Cluster requires. `single`:
   * one call for every shard's writes, which a single Redis allows (a script there may touch any key).
   * `RunStore` always uses `per-shard` on a cluster connection.
   */
  calls: 'per-shard' | 'single';
  /** The most writes one script call carries: Redis runs nothing else while a script runs. */
  maxWritesPerCall: number;
  /** Flushes sent and not yet answered at once; writes made meanwhile wait and form the next batch. */
  maxFlushesInFlight: number;
  /** Entries kept in each run's event stream, and in each shard's (approximate trims). */
  streamLengths: { run: number; shard: number };
};

type Queued = { write: RunWrite; resolve: (outcome: WriteOutcome) => void; reject: (error: unknown) => void };

/**
 * The writes of a call go to the script as one MessagePack argument, as BullMQ's own scripts take many
 * items (plain arrays, no records: Redis's `cmsgpack` reads them). Measured: a write as fifteen or so
 * arguments cost the worker 10 to 18 µs more than packed (ioredis builds each argument into the
 * command's string), and Redis no less.
 */
const packer = new Packr({ useRecords: false });

/** How many times a call is sent again after its connection closed under it. */
const maxResends = 5;

/**
 * Group commit: the checkpoints that the runs of one process have ready go to Redis together, in one
 * `commit-runs.lua` call per shard (the unit of a slot on Redis Cluster), or in one call for all shards
 * on a single Redis (`calls`), each write fenced on its own.
 * No timer: a lone write goes out at the end of the current turn of the event loop, and writes made
 * while a flush is in flight wait for it to answer, so batches grow with the load by themselves.
 */
export class GroupCommit {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #settings: GroupCommitSettings;
  #queued: Queued[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(redis: ScriptedRedis, keys: KeySchema, settings: GroupCommitSettings) {
    this.#redis = redis;
    this.#keys = keys;
    this.#settings = settings;
  }

  commit(write: RunWrite): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ write, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#settings.maxFlushesInFlight || this.#queued.length === 0)
      return;
    this.#scheduled = true;
    // After the current turn: the writes every run makes on the replies just read join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const batch = this.#queued;
    this.#queued = [];
    const groups = new Map<number, Queued[]>();
    const single = this.#settings.calls === 'single';
    for (const queued of batch) {
      const group = single ? 0 : queued.write.shard;
      const writes = groups.get(group);
      if (writes) writes.push(queued);
      else groups.set(group, [queued]);
    }
    const calls: Promise<void>[] = [];
    const { maxWritesPerCall } = this.#settings;
    for (const group of groups.values()) {
      for (let first = 0; first < group.length; first += maxWritesPerCall)
        calls.push(this.#send(group.slice(first, first + maxWritesPerCall)));
    }
    this.#inFlight += 1;
    void Promise.all(calls).then(() => {
      this.#inFlight -= 1;
      this.#schedule();
    });
  }

  /** One script call; every write's promise settles with its own outcome, or with the call's error. */
  async #send(writes: Queued[]): Promise<void> {
    // The shards' streams the call touches, declared as its keys; each write names its own by index.
    const streams: string[] = [];
    const streamOfShard = new Map<number, number>();
    for (const { write } of writes) {
      if (streamOfShard.has(write.shard)) continue;
      streams.push(this.#keys.shard(write.shard).events);
      streamOfShard.set(write.shard, streams.length);
    }
    const packed = packer.pack(
      writes.map(({ write }) => writeArray(write, streamOfShard.get(write.shard) ?? 1)),
    );
    const call = [
      ...streams,
      String(this.#settings.streamLengths.run),
      String(this.#settings.streamLengths.shard),
      packed,
    ];
    let replies: number[];
    try {
      replies = await this.#call(streams.length, call);
    } catch (error) {
      for (const queued of writes) queued.reject(error);
      return;
    }
    writes.forEach((queued, index) => {
      queued.resolve({
        outcome: replies[index * 3] as 1 | 0 | -1,
        version: replies[index * 3 + 1] as number,
        cancelRequested: replies[index * 3 + 2] === 1,
      });
    });
  }

  async #call(numberOfKeys: number, keysAndArguments: Array<string | Buffer>): Promise<number[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        // One shard's call names its key first, where ioredis's auto-pipelining on a cluster looks for
        // the slot of a command it does not know (a count first would be taken for the key).
        return numberOfKeys === 1
          ? await this.#redis.plainloopCommitShard(keysAndArguments)
          : await this.#redis.plainloopCommitRuns(numberOfKeys, keysAndArguments);
      } catch (error) {
        // A connection that closes while a pipeline of commands is half answered fails the rest of it
        // (ioredis does not resend a partial pipeline). Sent again with the same write ids, the script
        // tells each write that landed from one that did not, so the resend is safe.
        if (!abortedByConnectionClose(error) || attempt >= maxResends) throw error;
      }
    }
  }
}

/** A write as `commit-runs.lua` reads it (see the script's header). */
function writeArray(write: RunWrite, stream: number): unknown[] {
  return [
    write.key,
    stream,
    write.expectedVersion,
    write.writeId,
    write.expireSeconds,
    write.set,
    write.deleted,
    write.turns,
    write.ledger?.callId ?? '',
    write.ledger?.record ?? '',
    write.events,
  ];
}

/** ioredis's `AbortError`: the command was sent in a pipeline the server had only partly answered. */
function abortedByConnectionClose(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError' && error.message.includes('connection close');
}
