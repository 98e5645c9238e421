import { randomUUID } from 'node:crypto';
import {
  type Message,
  type ModelCallRecord,
  ModelCallRecord as ModelCallRecordSchema,
  maxIterationsCeiling,
  RecordedDecision,
  type RunEvent,
  RunState,
} from '@plainloop/contracts';
import type { RedisConnection } from './create-redis-client.ts';
import { RunFencedError } from './errors/run-fenced-error.ts';
import { GroupCommit, type GroupCommitSettings } from './group-commit.ts';
import type { KeySchema } from './key-schema.ts';
import { type ScriptedRedis, withPlainloopScripts } from './lua-scripts.ts';
import { isCluster, pipelinePerSlot } from './pipeline-per-slot.ts';
import { changedFields, stateFields, stateFromFields } from './run-state-fields.ts';

export type CheckpointOptions = {
  /** Messages to append to the run's transcript in the same atomic write. */
  appendTurns?: readonly Message[];
  /** A model call to add to the cost ledger in the same atomic write. */
  modelCall?: ModelCallRecord;
  /** Events of the work this checkpoint saves: they land with it, in the run's stream and its shard's. */
  events?: readonly RunEvent[];
  /** Keep the run's keys this long from now (set when the run finishes). */
  expireSeconds?: number;
  /** Identifies this write, so a resend of it after a lost reply is recognised (default: unique to this process). */
  writeId?: string;
  /**
   * On a cluster, wait until a replica has this write too (`WAIT 1`), so a failover cannot undo it: a
   * non-idempotent tool's "started" mark. `Checkpoint.replicated` says whether one did in time.
   */
  toReplica?: boolean;
};

/** `replicated`: false only when `toReplica` was asked and no replica acknowledged within the wait. */
export type Checkpoint = { state: RunState; cancelRequested: boolean; replicated: boolean };

export type OpenedRun = { created: boolean; state: RunState; turns: Message[] };

export type RunStoreSettings = GroupCommitSettings & {
  /** How long a `toReplica` write waits for a replica on a cluster; 0 does not wait (a cluster without replicas). */
  replicaWaitMs: number;
};

/**
 * A run's stream keeps every event of the longest run allowed: a step makes three events or more
 * (`step.started`, `llm.called`, one per tool call), so ten per step leaves room for parallel calls. A
 * shard's stream holds one entry per commit call (many events each) until the metrics process reads it.
 */
export const defaultRunStoreSettings: RunStoreSettings = {
  calls: 'single',
  maxWritesPerCall: 128,
  maxFlushesInFlight: 1,
  streamLengths: { run: maxIterationsCeiling * 10, shard: 5_000 },
  replicaWaitMs: 1_000,
};

/**
 * Typed access to runs in Redis. Reads parse with the contracts schema; every write is a fenced
 * checkpoint (a compare-and-set on the run's version), committed in groups with the other runs' writes
 * of this process (`GroupCommit`). Runs kept in the layout before shards are moved on first touch.
 */
export class RunStore {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #settings: RunStoreSettings;
  readonly #commits: GroupCommit;
  /**
   * Write ids: a random id per store and a count. A write id needs only to differ from the run's
   * previous write, and a UUID per write was 2 % of what a step allocated.
   */
  readonly #writeIdPrefix = `${randomUUID()}.`;
  #writeCount = 0;
  /** Whether this Redis may still hold runs in the layout before shards (asked once, on first need). */
  #legacyPossible: Promise<boolean> | undefined;

  constructor(redis: RedisConnection, keys: KeySchema, settings: RunStoreSettings = defaultRunStoreSettings) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    // A script on a cluster touches one slot: one commit call per shard there.
    this.#settings = isCluster(redis) ? { ...settings, calls: 'per-shard' } : settings;
    this.#commits = new GroupCommit(this.#redis, keys, this.#settings);
  }

  /**
   * Creates the run unless it exists, with the turns it starts from (a fork's replayed steps) and the
   * event that says so; either way returns the run as stored, and its transcript when `withTurns`.
   */
  async open(
    state: RunState,
    options: { turns?: readonly Message[]; event?: RunEvent; withTurns?: boolean } = {},
  ): Promise<OpenedRun> {
    await this.#moveLegacyRun(state.tenantId, state.runId);
    const opened = await this.#open(state, stateFields(state), options);
    if (opened === undefined) throw new Error(`run ${state.runId} could not be created`);
    return opened;
  }

  /**
   * Takes a run up: reads it with its transcript in one call, and creates it from `initial` only when it
   * does not exist (a direct BullMQ producer queued a job without it): the initial state is not even made
   * for a run that exists, as nearly every run a worker takes does.
   */
  async take(tenantId: string, runId: string, initial: () => RunState): Promise<OpenedRun> {
    await this.#moveLegacyRun(tenantId, runId);
    const found = await this.#open({ tenantId, runId, createdAt: 0 }, [], { withTurns: true });
    return found ?? this.open(initial(), { withTurns: true });
  }

  async #open(
    state: Pick<RunState, 'tenantId' | 'runId' | 'createdAt'>,
    fields: readonly string[],
    options: { turns?: readonly Message[]; event?: RunEvent; withTurns?: boolean },
  ): Promise<OpenedRun | undefined> {
    const keys = this.#keys.run(state.tenantId, state.runId);
    const shard = this.#keys.shard(keys.shard);
    const [created, stored, turns] = await this.#redis.plainloopOpenRun(
      keys.state,
      keys.turns,
      keys.events,
      shard.events,
      shard.runIndex(state.tenantId),
      String(state.createdAt),
      state.runId,
      String(this.#settings.streamLengths.run),
      String(this.#settings.streamLengths.shard),
      options.withTurns ? '1' : '',
      options.event ? JSON.stringify(options.event) : '',
      String(fields.length / 2),
      ...fields,
      ...(options.turns ?? []).map((message) => JSON.stringify(message)),
    );
    if (created === -1) return undefined;
    return {
      created: created === 1,
      state: stateFromFields(stored),
      turns: turns.map((entry) => JSON.parse(entry) as Message),
    };
  }

  /** `open` without the transcript: creates the run unless it exists, and returns it as stored. */
  async create(
    state: RunState,
    turns: readonly Message[] = [],
    event?: RunEvent,
  ): Promise<{ created: boolean; state: RunState }> {
    const { created, state: stored } = await this.open(state, { turns, ...(event ? { event } : {}) });
    return { created, state: stored };
  }

  /**
   * A page of the tenant's runs, newest first, starting after `after` (the last run of the previous
   * page). Reads at most `scan` entries of each shard's index (and of the index before shards, while
   * one may exist), merged; runs whose keys expired are dropped from their index.
   */
  async page(
    tenantId: string,
    options: { after?: { createdAt: number; runId: string }; scan: number },
  ): Promise<{ runs: RunState[]; exhausted: boolean }> {
    const { after, scan } = options;
    const indexes = this.#keys.shards.map((shard) => shard.runIndex(tenantId));
    if (await this.#legacyMayExist()) indexes.push(this.#keys.legacy.runIndex(tenantId));
    // Runs created in the same millisecond as `after` may sit on either side of it: fetch them too.
    const replies = await pipelinePerSlot(this.#redis, indexes, (reads, index) =>
      reads.zrevrangebyscore(
        index,
        after ? after.createdAt : '+inf',
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        scan + 1,
      ),
    );
    const candidates: Array<{ runId: string; createdAt: number; index: string }> = [];
    let anyIndexFull = false;
    replies.forEach(([, reply], position) => {
      const entries = (reply ?? []) as string[];
      if (entries.length > scan * 2) anyIndexFull = true;
      for (let entry = 0; entry < entries.length; entry += 2) {
        const runId = entries[entry] as string;
        const createdAt = Number(entries[entry + 1]);
        // Equal scores come in reverse lexical order: skip up to and including the cursor's run.
        if (after && createdAt === after.createdAt && runId >= after.runId) continue;
        candidates.push({ runId, createdAt, index: indexes[position] as string });
      }
    });
    candidates.sort((left, right) =>
      left.createdAt === right.createdAt
        ? left.runId < right.runId
          ? 1
          : -1
        : right.createdAt - left.createdAt,
    );
    const wanted = candidates.slice(0, scan);
    const exhausted = !anyIndexFull && wanted.length === candidates.length;
    const loaded = await pipelinePerSlot(
      this.#redis,
      wanted.map(({ runId }) => this.#keys.run(tenantId, runId).state),
      (loads, key) => loads.hgetall(key),
    );
    const runs: RunState[] = [];
    for (const [position, { runId, index }] of wanted.entries()) {
      const stored = (loaded[position]?.[1] ?? {}) as Record<string, string>;
      const state =
        Object.keys(stored).length > 0
          ? stateFromFields(Object.entries(stored).flat())
          : await this.load(tenantId, runId);
      if (state) runs.push(state);
      else await this.#redis.zrem(index, runId);
    }
    return { runs, exhausted };
  }

  async load(tenantId: string, runId: string): Promise<RunState | undefined> {
    const stored = await this.#redis.hgetall(this.#keys.run(tenantId, runId).state);
    if (Object.keys(stored).length > 0) return stateFromFields(Object.entries(stored).flat());
    if (!(await this.#moveLegacyRun(tenantId, runId))) return undefined;
    return this.load(tenantId, runId);
  }

  async loadTurns(tenantId: string, runId: string): Promise<Message[]> {
    const stored = await this.#redis.lrange(this.#keys.run(tenantId, runId).turns, 0, -1);
    return stored.map((entry) => JSON.parse(entry) as Message);
  }

  async loadModelCalls(tenantId: string, runId: string): Promise<ModelCallRecord[]> {
    const stored = await this.#redis.hvals(this.#keys.run(tenantId, runId).ledger);
    return stored
      .map((entry) => ModelCallRecordSchema.parse(JSON.parse(entry)))
      .sort((left, right) => left.at - right.at);
  }

  /** A write id needs only to differ from the run's previous one: the store's random id and a count. */
  #nextWriteId(): string {
    this.#writeCount += 1;
    return this.#writeIdPrefix + this.#writeCount;
  }

  /**
   * Writes `next` as version `previous.version + 1` if the stored run is still at `previous.version`,
   * sending only the parts of the state that changed. Throws `RunFencedError` otherwise. Returns the
   * state as written, and whether someone has asked to cancel the run meanwhile.
   */
  async checkpoint(
    previous: RunState,
    next: Omit<RunState, 'version'>,
    options: CheckpointOptions = {},
  ): Promise<Checkpoint> {
    const written: RunState = { ...next, version: previous.version + 1 };
    const keys = this.#keys.run(previous.tenantId, previous.runId);
    const { set, deleted } = changedFields(previous, next);
    const { modelCall } = options;
    const reply = await this.#commits.commit({
      key: keys.state,
      shard: keys.shard,
      expectedVersion: previous.version,
      writeId: options.writeId ?? this.#nextWriteId(),
      expireSeconds: options.expireSeconds ?? 0,
      set,
      deleted,
      turns: (options.appendTurns ?? []).map((message) => JSON.stringify(message)),
      ledger: modelCall ? { callId: modelCall.callId, record: JSON.stringify(modelCall) } : undefined,
      events: (options.events ?? []).map((event) => JSON.stringify(event)),
    });
    if (reply.outcome !== 1)
      throw new RunFencedError(
        previous.runId,
        previous.version,
        reply.outcome === -1 ? undefined : reply.version,
      );
    const replicated = options.toReplica ? await this.#reachedReplica(keys.state) : true;
    return { state: written, cancelRequested: reply.cancelRequested, replicated };
  }

  /**
   * Whether a replica of the key's master has every write this connection sent there (`WAIT 1`). The
   * keyed command takes the pipeline to that master, over the same connection the write went by, which
   * is whose writes `WAIT` counts. A single Redis has no failover to undo a write: nothing to wait for.
   */
  async #reachedReplica(key: string): Promise<boolean> {
    const { replicaWaitMs } = this.#settings;
    if (!isCluster(this.#redis) || replicaWaitMs === 0) return true;
    const replies = (await this.#redis.pipeline().exists(key).wait(1, replicaWaitMs).exec()) ?? [];
    const [error, acknowledged] = replies[1] ?? [new Error('no reply to WAIT'), 0];
    if (error) throw error;
    return Number(acknowledged) >= 1;
  }

  /**
   * Whether replicas have a new run: its keys and `otherKeys` written over this store's connection (the
   * run queue's job, when the queue shares it), each master waited on at once. A submission waits for
   * this before it is answered, so a failover cannot undo an accepted run.
   */
  async reachedReplicas(
    run: { tenantId: string; runId: string },
    otherKeys: readonly string[] = [],
  ): Promise<boolean> {
    const keys = [this.#keys.run(run.tenantId, run.runId).state, ...otherKeys];
    const replicated = await Promise.all(keys.map((key) => this.#reachedReplica(key)));
    return replicated.every(Boolean);
  }

  /** Asks, for every process at once, that the run be cancelled; the reason is kept with the request. */
  async requestCancel(tenantId: string, runId: string, reason: string, keepSeconds: number): Promise<void> {
    await this.#redis.set(this.#keys.run(tenantId, runId).cancel, reason, 'EX', keepSeconds);
  }

  /**
   * Records a person's decision on a call that waits for approval, once: a second decision on the same
   * call is refused. Decisions live beside the fenced state, so recording one never fences the worker
   * that holds the run; the worker folds them into its next checkpoint.
   */
  async recordDecision(
    tenantId: string,
    runId: string,
    callId: string,
    decision: RecordedDecision,
  ): Promise<boolean> {
    const recorded = await this.#redis.hsetnx(
      this.#keys.run(tenantId, runId).approvals,
      callId,
      JSON.stringify(decision),
    );
    return recorded === 1;
  }

  async loadDecisions(tenantId: string, runId: string): Promise<Record<string, RecordedDecision>> {
    const stored = await this.#redis.hgetall(this.#keys.run(tenantId, runId).approvals);
    return Object.fromEntries(
      Object.entries(stored).map(([callId, json]) => [callId, RecordedDecision.parse(JSON.parse(json))]),
    );
  }

  /** The reason someone asked to cancel the run, or undefined when nobody did. */
  async cancelReason(tenantId: string, runId: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#keys.run(tenantId, runId).cancel)) ?? undefined;
  }

  /**
   * A deployment upgraded in place keeps its global event stream from before shards: its presence is
   * the sign that runs in the old layout may remain. Asked once per store; a fresh deployment pays one
   * EXISTS in all.
   */
  #legacyMayExist(): Promise<boolean> {
    // A cluster never held that layout: plainloop ran on one only after shards.
    if (isCluster(this.#redis)) return Promise.resolve(false);
    this.#legacyPossible ??= this.#redis.exists(this.#keys.legacy.events).then((count) => count > 0);
    return this.#legacyPossible;
  }

  /** Moves the run from the layout before shards, if it is there; true when the run exists now. */
  async #moveLegacyRun(tenantId: string, runId: string): Promise<boolean> {
    if (!(await this.#legacyMayExist())) return false;
    const legacy = this.#keys.legacy.run(tenantId, runId);
    const keys = this.#keys.run(tenantId, runId);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const [version, json] = await this.#redis.hmget(legacy.state, 'version', 'state');
      if (version == null || json == null) return (await this.#redis.exists(keys.state)) === 1;
      const state = RunState.parse(JSON.parse(json));
      const fields = stateFields(state);
      const moved = await this.#redis.plainloopMoveLegacyRun(
        ...legacyOrder(legacy),
        ...legacyOrder(keys),
        this.#keys.legacy.runIndex(tenantId),
        this.#keys.shard(keys.shard).runIndex(tenantId),
        version,
        runId,
        String(state.createdAt),
        String(fields.length / 2),
        ...fields,
      );
      if (moved !== -1) return true;
    }
    throw new Error(`run ${runId} kept changing in the layout before shards while it was being moved`);
  }
}

function legacyOrder(keys: ReturnType<KeySchema['run']>): string[] {
  return [keys.state, keys.turns, keys.ledger, keys.events, keys.cancel, keys.approvals, keys.webhook];
}
