import { randomUUID } from 'node:crypto';
import {
  type Message,
  type ModelCallRecord,
  ModelCallRecord as ModelCallRecordSchema,
  RecordedDecision,
  RunState,
} from '@plainloop/contracts';
import type { Redis } from 'ioredis';
import { RunFencedError } from './errors/run-fenced-error.ts';
import type { KeySchema } from './key-schema.ts';
import { type ScriptedRedis, withPlainloopScripts } from './lua-scripts.ts';

export type CheckpointOptions = {
  /** Messages to append to the run's transcript in the same atomic write. */
  appendTurns?: readonly Message[];
  /** A model call to add to the cost ledger in the same atomic write. */
  modelCall?: ModelCallRecord;
  /** Keep the run's keys this long from now (set when the run finishes). */
  expireSeconds?: number;
  /** Identifies this write, so a resend of it after a lost reply is recognised (default: random). */
  writeId?: string;
};

export type Checkpoint = { state: RunState; cancelRequested: boolean };

/**
 * Typed access to runs in Redis. Reads parse with the contracts schema; every write goes through the
 * checkpoint script, a compare-and-set on the run's version.
 */
export class RunStore {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;

  constructor(redis: Redis, keys: KeySchema) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
  }

  /**
   * Creates the run unless it exists; either way returns the run as stored, and makes sure the tenant's
   * index lists it (a second command, in another cluster slot: a crash in between is repaired the next
   * time the run is created or taken). `turns` start its transcript (a fork's replayed steps), written
   * in the same atomic step only when the run is created.
   */
  async create(
    state: RunState,
    turns: readonly Message[] = [],
  ): Promise<{ created: boolean; state: RunState }> {
    const keys = this.#keys.run(state.tenantId, state.runId);
    const [created, stored] = await this.#redis.plainloopCreateRun(
      keys.state,
      keys.turns,
      JSON.stringify(state),
      ...turns.map((message) => JSON.stringify(message)),
    );
    const saved = created === 1 ? state : RunState.parse(JSON.parse(stored));
    await this.#redis.zadd(this.#keys.runIndex(saved.tenantId), 'NX', saved.createdAt, saved.runId);
    return { created: created === 1, state: saved };
  }

  /**
   * A page of the tenant's runs, newest first, starting after `after` (the last run of the previous
   * page). Reads at most `scan` index entries; runs whose keys expired are dropped from the index.
   */
  async page(
    tenantId: string,
    options: { after?: { createdAt: number; runId: string }; scan: number },
  ): Promise<{ runs: RunState[]; exhausted: boolean }> {
    const index = this.#keys.runIndex(tenantId);
    const { after, scan } = options;
    // Runs created in the same millisecond as `after` may sit on either side of it: fetch them too.
    const entries = await this.#redis.zrevrangebyscore(
      index,
      after ? after.createdAt : '+inf',
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      scan + 1,
    );
    const candidates: Array<{ runId: string; createdAt: number }> = [];
    for (let position = 0; position < entries.length; position += 2) {
      const runId = entries[position] as string;
      const createdAt = Number(entries[position + 1]);
      // Equal scores come in reverse lexical order: skip up to and including the cursor's run.
      if (after && createdAt === after.createdAt && runId >= after.runId) continue;
      candidates.push({ runId, createdAt });
    }
    const wanted = candidates.slice(0, scan);
    const exhausted = entries.length <= scan * 2 && wanted.length === candidates.length;
    const pipeline = this.#redis.pipeline();
    for (const { runId } of wanted) pipeline.hget(this.#keys.run(tenantId, runId).state, 'state');
    const replies = (await pipeline.exec()) ?? [];
    const runs: RunState[] = [];
    const gone: string[] = [];
    wanted.forEach(({ runId }, position) => {
      const stored = replies[position]?.[1] as string | null | undefined;
      if (stored) runs.push(RunState.parse(JSON.parse(stored)));
      else gone.push(runId);
    });
    if (gone.length > 0) await this.#redis.zrem(index, ...gone);
    return { runs, exhausted };
  }

  async load(tenantId: string, runId: string): Promise<RunState | undefined> {
    const stored = await this.#redis.hget(this.#keys.run(tenantId, runId).state, 'state');
    return stored === null ? undefined : RunState.parse(JSON.parse(stored));
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

  /**
   * Writes `next` as version `previous.version + 1` if the stored run is still at `previous.version`.
   * Throws `RunFencedError` otherwise. Returns the state as written, and whether someone has asked to
   * cancel the run meanwhile.
   */
  async checkpoint(
    previous: Pick<RunState, 'runId' | 'tenantId' | 'version'>,
    next: Omit<RunState, 'version'>,
    options: CheckpointOptions = {},
  ): Promise<Checkpoint> {
    const written: RunState = { ...next, version: previous.version + 1 };
    const keys = this.#keys.run(previous.tenantId, previous.runId);
    const writeId = options.writeId ?? randomUUID();
    const send = () =>
      this.#redis.plainloopCheckpointRun(
        keys.state,
        keys.turns,
        keys.ledger,
        keys.events,
        keys.cancel,
        keys.approvals,
        String(previous.version),
        writeId,
        JSON.stringify(written),
        String(options.expireSeconds ?? 0),
        options.modelCall?.callId ?? '',
        options.modelCall ? JSON.stringify(options.modelCall) : '',
        ...(options.appendTurns ?? []).map((message) => JSON.stringify(message)),
      );
    let reply: Awaited<ReturnType<typeof send>>;
    for (let attempt = 1; ; attempt += 1) {
      try {
        reply = await send();
        break;
      } catch (error) {
        // A connection that closes while a pipeline of commands is half answered fails the rest of it
        // (ioredis does not resend a partial pipeline). Sent again with the same write id, the script
        // tells a write that landed from one that did not, so the resend is safe.
        if (!abortedByConnectionClose(error) || attempt >= maxResends) throw error;
      }
    }
    const [outcome, currentVersion, cancelRequested] = reply;
    if (outcome !== 1) throw new RunFencedError(previous.runId, previous.version, currentVersion);
    return { state: written, cancelRequested: cancelRequested === 1 };
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
}

/** How many times a checkpoint is sent again after its connection closed under it. */
const maxResends = 5;

/** ioredis's `AbortError`: the command was sent in a pipeline the server had only partly answered. */
function abortedByConnectionClose(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError' && error.message.includes('connection close');
}
