import { Message } from '@plainloop/contracts';
import {
  type KeySchema,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import type { Fact } from '../context/build-context.ts';

export type ThreadSettings = {
  /** A thread unused this long is deleted with everything in it. */
  retentionSeconds: number;
  /** Raw turns kept for audit once they are summarized (0: all). */
  keepTurns: number;
};

/** What a run needs of its thread: the summary so far, the facts, and the turns not summarized yet. */
export type ThreadMemory = {
  summary: string | undefined;
  facts: Fact[];
  /** Absolute index (over the thread's whole life) of the first turn in `recent`. */
  recentFrom: number;
  recent: Message[];
};

export type ThreadRef = { tenantId: string; threadId: string };

/** `position`: how many turns the thread had when the fact was learned, to tell older facts from newer. */
type StoredFact = { value: string; at: number; source: 'model' | 'summary'; position: number };

/**
 * A conversation thread in Redis. Turns are appended (each run's once, by run id) and never rewritten;
 * the rolling summary covers a prefix of them, and raw turns past `keepTurns` that are summarized are
 * trimmed. Facts live beside the summary, so no summary or reset loses them.
 */
export class ThreadStore {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #settings: ThreadSettings;

  constructor(redis: RedisConnection, keys: KeySchema, settings: ThreadSettings) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.#settings = settings;
  }

  /** How long an unused thread lives; what belongs to it elsewhere (its semantic memory) lives as long. */
  get retentionSeconds(): number {
    return this.#settings.retentionSeconds;
  }

  async load({ tenantId, threadId }: ThreadRef): Promise<ThreadMemory> {
    const keys = this.#keys.thread(tenantId, threadId);
    const [memory, facts] = await Promise.all([
      this.#redis.hgetall(keys.memory),
      this.#redis.hgetall(keys.facts),
    ]);
    const recentFrom = Number(memory.summarizedThrough ?? 0);
    const trimmed = Number(memory.trimmed ?? 0);
    const raw = await this.#redis.lrange(keys.turns, Math.max(0, recentFrom - trimmed), -1);
    return {
      summary: memory.summary,
      facts: Object.entries(facts)
        .map(([key, json]) => ({ key, stored: JSON.parse(json) as StoredFact }))
        .sort((left, right) => left.stored.at - right.stored.at || left.key.localeCompare(right.key))
        .map(({ key, stored }) => ({ key, value: stored.value })),
      recentFrom,
      recent: raw.map((json) => Message.parse(JSON.parse(json))),
    };
  }

  /** Appends a run's turns to the thread, once however often it is called for the run. */
  async append(
    { tenantId, threadId }: ThreadRef,
    runId: string,
    turns: readonly Message[],
  ): Promise<boolean> {
    const keys = this.#keys.thread(tenantId, threadId);
    const appended = await this.#redis.plainloopThreadAppend(
      keys.turns,
      keys.runs,
      keys.memory,
      keys.facts,
      keys.queue,
      runId,
      String(this.#settings.retentionSeconds),
      ...turns.map((turn) => JSON.stringify(turn)),
    );
    return appended === 1;
  }

  /** Rolls the summary forward to `through` (absolute); ignored unless it goes further than the last one. */
  async applySummary(
    { tenantId, threadId }: ThreadRef,
    through: number,
    summary: string,
    facts: readonly Fact[],
    now: number,
  ): Promise<boolean> {
    const keys = this.#keys.thread(tenantId, threadId);
    const factArguments = facts.flatMap((fact) => [
      fact.key,
      JSON.stringify({
        value: fact.value,
        at: now,
        source: 'summary',
        position: through,
      } satisfies StoredFact),
    ]);
    const applied = await this.#redis.plainloopThreadSummarize(
      keys.memory,
      keys.facts,
      keys.turns,
      String(through),
      summary,
      String(this.#settings.keepTurns),
      ...factArguments,
    );
    return applied === 1;
  }

  /** Records a fact the model asked to remember; a later value for the same key replaces it. */
  async remember({ tenantId, threadId }: ThreadRef, fact: Fact, now: number): Promise<void> {
    const keys = this.#keys.thread(tenantId, threadId);
    // Learned now: after every turn the thread has so far (the running run's own come after it).
    const [length, trimmed] = await Promise.all([
      this.#redis.llen(keys.turns),
      this.#redis.hget(keys.memory, 'trimmed'),
    ]);
    const stored: StoredFact = {
      value: fact.value,
      at: now,
      source: 'model',
      position: length + Number(trimmed ?? 0),
    };
    await this.#redis.hset(keys.facts, fact.key, JSON.stringify(stored));
  }
}
