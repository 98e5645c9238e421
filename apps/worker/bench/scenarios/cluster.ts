/**
 * Cluster (`npm run bench -- --cluster`): the same work as the throughput scenario's plainloop side,
 * through two worker processes, on a Redis Cluster (a private six-node one unless REDIS_URL names a
 * cluster). Each master's INFO is read before and after, so the figures are each master's own:
 *   - Redis CPU a step, per step of the whole fleet and per step of the shards the master holds: what
 *     each master costs, and whether a step costs the same wherever its shard lives (a flat cost);
 *   - the load of each of the 16 run shards (the steps committed in it), busiest ÷ least busy, target
 *     at most 1.3: runs spread over the shards by their id, the shards over the masters by their slot.
 * The master that holds the run queue's slot carries BullMQ's work for every run besides its shards'
 * steps: it is named, and the spread of the masters is printed without it too.
 * Two cores cannot show a cluster's speed-up (three masters and two workers share them); an even
 * spread and a flat cost per master can.
 */
import {
  type Cluster,
  createKeySchema,
  type Redis,
  runShardCount,
  shardOf,
  shardTags,
  slotOf,
} from '@plainloop/redis';
import { stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import {
  closeChildren,
  startWorkerChild,
  throwFirstFailure,
  verdict,
  type WorkerChild,
  waitForQueueDone,
} from '../harness.ts';
import {
  formatRedisCost,
  type RedisCounters,
  readRedisCounters,
  redisCostBetween,
} from '../redis-command-stats.ts';

/** The spread target over the shards: the busiest at most this many times the least busy. */
const spreadTarget = 1.3;
const workerProcesses = 2;

type Master = { address: string; slots: Array<[number, number]>; connection: Redis };

/** The cluster's masters, each with its slot ranges and a connection of its own (`CLUSTER SLOTS`). */
async function mastersOf(redis: Cluster): Promise<Master[]> {
  const ranges = await redis.cluster('SLOTS');
  const byAddress = new Map<string, Master>();
  const nodes = redis.nodes('master');
  for (const [start, end, owner] of ranges) {
    if (!owner) continue;
    const [host, port] = owner;
    const address = `${host}:${port}`;
    const connection = nodes.find((node) => `${node.options.host}:${node.options.port}` === address);
    if (!connection) throw new Error(`no connection to master ${address}`);
    const master = byAddress.get(address) ?? { address, slots: [], connection };
    master.slots.push([start, end]);
    byAddress.set(address, master);
  }
  return [...byAddress.values()].sort(
    (left, right) => (left.slots[0]?.[0] ?? 0) - (right.slots[0]?.[0] ?? 0),
  );
}

const holds = (master: Master, slot: number) =>
  master.slots.some(([start, end]) => slot >= start && slot <= end);

export async function clusterScenario(options: {
  url: string;
  redis: Cluster;
  runs: number;
  concurrency: number;
}): Promise<void> {
  const { url, redis, runs, concurrency } = options;
  const steps = runs * stepsPerRun;
  const prefix = 'bench-cluster';
  const keys = createKeySchema(prefix);
  const masters = await mastersOf(redis);
  console.log(
    `\n## cluster: ${runs} runs × ${stepsPerRun} steps (zero latency) through ${workerProcesses} worker processes ` +
      `of concurrency ${concurrency}, a cluster of ${masters.length} masters`,
  );
  const shardMaster = shardTags.map((tag) =>
    masters.findIndex((master) => holds(master, slotOf(`{${tag}}`))),
  );
  const queueMaster = masters.findIndex((master) => holds(master, slotOf(keys.queuePrefix)));
  const children: WorkerChild[] = [];
  let before: RedisCounters[] = [];
  let after: RedisCounters[] = [];
  const stepsPerShard = new Array<number>(runShardCount).fill(0);
  let closed: PromiseSettledResult<unknown>[] = [];
  let seconds = 0;
  try {
    const submitted = await submitBenchRuns(redis, prefix, runs, { paused: true });
    for (const { runId } of submitted.runs) {
      const shard = shardOf(runId);
      stepsPerShard[shard] = (stepsPerShard[shard] ?? 0) + stepsPerRun;
    }
    const { queue } = submitted;
    try {
      children.push(
        ...(await Promise.all(
          Array.from({ length: workerProcesses }, () =>
            startWorkerChild({ kind: 'plainloop', url, prefix, concurrency }),
          ),
        )),
      );
      await Promise.all(children.map((child) => child.ready()));
      before = await Promise.all(masters.map((master) => readRedisCounters(master.connection)));
      const startedAt = performance.now();
      await queue.resume();
      // Every run completed (a failed one throws): each shard's steps are its runs' steps.
      const completion = await waitForQueueDone(queue, runs, 60_000 + steps * 10, 20);
      seconds = (completion.endedAt - startedAt) / 1_000;
      after = await Promise.all(masters.map((master) => readRedisCounters(master.connection)));
    } finally {
      await queue.close();
    }
  } finally {
    closed = await closeChildren(children);
    await removeBenchRuns(redis, prefix);
  }
  throwFirstFailure(closed);

  console.log(`  ${steps} steps in ${seconds.toFixed(1)} s: ${(steps / seconds).toFixed(0)} steps/s`);
  const cpuPerStep: number[] = [];
  masters.forEach((master, index) => {
    const cpuSeconds = (after[index]?.cpuSeconds ?? 0) - (before[index]?.cpuSeconds ?? 0);
    const shards = shardMaster.flatMap((owner, shard) => (owner === index ? [shard] : []));
    const ownSteps = shards.reduce((sum, shard) => sum + (stepsPerShard[shard] ?? 0), 0);
    const fleetStepMicroseconds = (cpuSeconds * 1e6) / steps;
    cpuPerStep.push(fleetStepMicroseconds);
    console.log(
      `  master ${master.address} (slots ${master.slots.map(([start, end]) => `${start}-${end}`).join(', ')}): ` +
        `shards ${shards.join(' ')}${index === queueMaster ? ', the run queue' : ''}; ` +
        `${fleetStepMicroseconds.toFixed(1)} µs Redis CPU a fleet step, ` +
        `${((cpuSeconds * 1e6) / ownSteps).toFixed(1)} µs a step of its shards (${ownSteps} steps)`,
    );
    // Not deducted: the bench's completion polls (a getJobCounts script every 20 ms), which land on the
    // run queue's master; some 600 polls against 30,000 steps, a fraction of a command a step.
    const own = { polls: 0, pollCommand: '', commandsPerPoll: 0 };
    const cost = redisCostBetween(before[index] as RedisCounters, after[index] as RedisCounters, own);
    console.log(`    a fleet step there: ${formatRedisCost(cost, steps, 12)}`);
  });
  const ratio = (values: number[]) => Math.max(...values) / Math.min(...values);
  const withoutQueue = cpuPerStep.filter((_, index) => index !== queueMaster);
  console.log(
    `  masters: busiest ÷ least busy ${ratio(cpuPerStep).toFixed(2)} (Redis CPU); ` +
      `${ratio(withoutQueue).toFixed(2)} without the run queue's master (no target); ` +
      `all masters ${cpuPerStep.reduce((sum, value) => sum + value, 0).toFixed(1)} µs a step`,
  );
  const spread = ratio(stepsPerShard);
  console.log(
    `  shards: steps ${Math.min(...stepsPerShard)}–${Math.max(...stepsPerShard)}, busiest ÷ least busy ` +
      `${spread.toFixed(2)} (target ≤ ${spreadTarget}): ${verdict(spread <= spreadTarget)}`,
  );
}
