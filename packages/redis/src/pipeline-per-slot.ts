import { type ChainableCommander, Cluster } from 'ioredis';
import type { RedisConnection } from './create-redis-client.ts';
import { slotOf } from './run-shards.ts';

export type PipelineReplies = Array<[Error | null, unknown]>;

/**
 * Sends one command per key, as few round trips as the connection allows: one pipeline on a single
 * Redis; on a cluster, where a pipeline must stay on one node, one pipeline per slot, all in flight at
 * once. `add` queues the command for `keys[index]`; the replies come back in the order of `keys`.
 */
export async function pipelinePerSlot(
  redis: RedisConnection,
  keys: readonly string[],
  add: (pipeline: ChainableCommander, key: string, index: number) => unknown,
): Promise<PipelineReplies> {
  if (!isCluster(redis)) {
    const pipeline = redis.pipeline();
    for (const [index, key] of keys.entries()) add(pipeline, key, index);
    return ((await pipeline.exec()) ?? []) as PipelineReplies;
  }
  const bySlot = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = slotOf(key);
    const positions = bySlot.get(slot);
    if (positions) positions.push(index);
    else bySlot.set(slot, [index]);
  });
  const replies: PipelineReplies = new Array(keys.length);
  await Promise.all(
    [...bySlot.values()].map(async (positions) => {
      const pipeline = redis.pipeline();
      for (const index of positions) add(pipeline, keys[index] as string, index);
      const answered = ((await pipeline.exec()) ?? []) as PipelineReplies;
      positions.forEach((index, position) => {
        replies[index] = answered[position] ?? [new Error('no reply'), null];
      });
    }),
  );
  return replies;
}

export function isCluster(redis: RedisConnection): redis is Cluster {
  return redis instanceof Cluster;
}
