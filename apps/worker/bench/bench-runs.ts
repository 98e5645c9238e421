/**
 * The bench agent's runs, queued the way the API queues them (`submitRun`: the run's state, its
 * `run.queued` event and its job), and removed again after a scenario.
 */
import { submitRun } from '@plainloop/agent';
import { RunRequest } from '@plainloop/contracts';
import {
  createKeySchema,
  createRunQueue,
  isCluster,
  queueNames,
  type RedisConnection,
  RunStore,
} from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { Queue } from 'bullmq';

/**
 * Submits in flight at once. One at a time, each submit waits out its five or so round trips: 30,000
 * runs took minutes. Hundreds in flight share the connection's round trips and take seconds.
 */
const submitBatch = 500;

export type SubmittedRuns = {
  /** The run queue of the prefix (the caller closes it). */
  queue: Queue;
  /** Each run's tenant and id, in submission order. */
  runs: Array<{ tenantId: string; runId: string }>;
};

/**
 * Queues `runs` runs of the bench agent under `prefix`, before any worker starts (not timed). With
 * `paused`, the queue is paused first: its jobs wait until the caller resumes it.
 */
export async function submitBenchRuns(
  redis: RedisConnection,
  prefix: string,
  runs: number,
  options: { paused?: boolean } = {},
): Promise<SubmittedRuns> {
  const keys = createKeySchema(prefix);
  const queue = createRunQueue(redis, keys);
  if (options.paused) await queue.pause();
  const dependencies = {
    store: new RunStore(redis, keys),
    queue,
    logger: createLogger({ service: 'bench', level: 'error' }),
  };
  const submitted: SubmittedRuns['runs'] = [];
  for (let start = 0; start < runs; start += submitBatch) {
    const count = Math.min(submitBatch, runs - start);
    const results = await Promise.all(
      Array.from({ length: count }, (_, offset) =>
        submitRun(
          dependencies,
          RunRequest.parse({ agent: 'bench', input: { index: start + offset } }),
          Date.now(),
        ),
      ),
    );
    for (const { state } of results) submitted.push({ tenantId: state.tenantId, runId: state.runId });
  }
  return { queue, runs: submitted };
}

/** Removes everything under `prefix`, the runs' keys and the run queue, so the next use starts empty. */
export async function removeBenchRuns(redis: RedisConnection, prefix: string): Promise<void> {
  // Each master holds some of the keys (one Redis holds them all), of many slots on a cluster: one
  // UNLINK per key, a thousand to a pipeline.
  for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
    const runKeys = await node.keys(`${prefix}:*`);
    for (let start = 0; start < runKeys.length; start += 1_000)
      await runKeys
        .slice(start, start + 1_000)
        .reduce((unlinks, key) => unlinks.unlink(key), node.pipeline())
        .exec();
  }
  const queue = new Queue(queueNames.runs, {
    connection: redis,
    prefix: createKeySchema(prefix).queuePrefix,
  });
  await queue.obliterate({ force: true });
  await queue.close();
}
