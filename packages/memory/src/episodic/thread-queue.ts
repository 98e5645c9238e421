import {
  type KeySchema,
  type RedisConnection,
  type ScriptedRedis,
  withPlainloopScripts,
} from '@plainloop/redis';
import type { ThreadRef } from './thread-store.ts';

/**
 * The order of a thread's runs: one at a time, in the order they entered (at submit, or when first
 * taken for a run enqueued straight into BullMQ). The queue expires with the thread.
 */
export class ThreadQueue {
  readonly #redis: ScriptedRedis;
  readonly #keys: KeySchema;
  readonly #retentionSeconds: number;

  constructor(redis: RedisConnection, keys: KeySchema, retentionSeconds: number) {
    this.#redis = withPlainloopScripts(redis);
    this.#keys = keys;
    this.#retentionSeconds = retentionSeconds;
  }

  /** Puts the run in the thread's queue (once) and says whether it is its turn to run. */
  async enter({ tenantId, threadId }: ThreadRef, runId: string): Promise<boolean> {
    const { queue } = this.#keys.thread(tenantId, threadId);
    return (await this.#redis.plainloopThreadEnter(queue, runId, String(this.#retentionSeconds))) === runId;
  }

  /** The run whose turn it is, if any. */
  async head({ tenantId, threadId }: ThreadRef): Promise<string | undefined> {
    return (await this.#redis.lindex(this.#keys.thread(tenantId, threadId).queue, 0)) ?? undefined;
  }

  /** Takes the run out of the queue (it ended, or can never run); returns the run whose turn it is now. */
  async leave({ tenantId, threadId }: ThreadRef, runId: string): Promise<string | undefined> {
    const { queue } = this.#keys.thread(tenantId, threadId);
    await this.#redis.lrem(queue, 0, runId);
    return (await this.#redis.lindex(queue, 0)) ?? undefined;
  }
}
