import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from './create-redis-client.ts';
import { isCluster, pipelinePerSlot } from './pipeline-per-slot.ts';

export type StreamEntry = [id: string, fields: string[]];
export type StreamReply = Array<[stream: string, entries: StreamEntry[]]>;

/**
 * `XREAD` or `XREADGROUP` over streams of many slots (every shard's), waiting up to `blockMs` for
 * something to read. `options` are what comes before `STREAMS`: `['COUNT', n]`, or `['GROUP', group,
 * consumer, 'COUNT', n]`.
 *
 * On one Redis it is one command, blocking. On a cluster a command may name keys of one slot only, and
 * a blocking read would hold the node's one connection of the client for everything else: each
 * stream is read without blocking, all at once, and a round that found nothing is tried again after
 * `pollMs`, until `blockMs` has passed (one cheap read per shard a poll). `signal` stops the wait.
 */
export async function readStreams(
  redis: RedisConnection,
  command: 'xread' | 'xreadgroup',
  options: ReadonlyArray<string | number>,
  streams: readonly string[],
  ids: readonly string[],
  blockMs: number | undefined,
  signal?: AbortSignal,
  pollMs = 100,
): Promise<StreamReply> {
  // Through ioredis's own commands, whose replies are lists of [stream, entries] pairs.
  const send = redis[command].bind(redis) as (...args: unknown[]) => Promise<unknown>;
  if (!isCluster(redis)) {
    const block = blockMs === undefined ? [] : ['BLOCK', blockMs];
    return ((await send(...options, ...block, 'STREAMS', ...streams, ...ids)) ?? []) as StreamReply;
  }
  const deadline = Date.now() + (blockMs ?? 0);
  for (;;) {
    signal?.throwIfAborted();
    const replies = await untilAborted(
      pipelinePerSlot(redis, streams, (reads, stream, index) =>
        (reads[command] as (...args: unknown[]) => unknown)(...options, 'STREAMS', stream, ids[index]),
      ),
      signal,
    );
    const read: StreamReply = [];
    for (const [error, reply] of replies) {
      if (error) throw error;
      for (const pair of (reply ?? []) as StreamReply) if (pair[1].length > 0) read.push(pair);
    }
    const left = deadline - Date.now();
    if (read.length > 0 || blockMs === undefined || left <= 0) return read;
    await sleep(Math.min(pollMs, left), undefined, signal ? { signal } : {});
  }
}

/**
 * A cluster client's pipeline that is in flight when the client is disconnected, or sent after, may
 * never settle (ioredis 6 queues it for a reconnection that will not come): the reader's own stop
 * ends the wait instead.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
