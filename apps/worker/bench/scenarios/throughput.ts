/**
 * Throughput: 3-step runs of the scripted zero-latency model (one tool call per step) through one
 * plainloop worker process at concurrency 100, beside (a) raw BullMQ no-op jobs and (b) the hand-rolled
 * loop, each in its own worker process of the same concurrency, one after the other on the same Redis.
 * Each side is measured `repeat` times, interleaved, and its best rate kept (a busy machine only ever
 * slows a side down). The rate is the steady one, between 10 % and 90 % of the work done, so worker
 * start-up and the tail do not count; the start-to-last figure is printed beside it.
 * Target: plainloop steps/s ÷ each baseline's rate ≥ 1.0.
 */
import type { Redis } from '@plainloop/redis';
import type { Queue } from 'bullmq';
import { enqueueHandRolledRuns, handRolledQueue } from '../baselines/hand-rolled-loop.ts';
import { enqueueRawJobs, rawBullmqQueue } from '../baselines/raw-bullmq.ts';
import { stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import {
  type Completion,
  ownPolling,
  startWorkerChild,
  verdict,
  type WorkerKind,
  waitForCompleted,
} from '../harness.ts';
import {
  type RedisCost,
  type RedisCounters,
  readRedisCounters,
  redisCostBetween,
} from '../redis-command-stats.ts';

/** One side's measurement: steps (or no-op jobs) per second, steady and start to last, and its Redis cost. */
type Drained = {
  steadyRate: number;
  overallRate: number;
  /** The worker process's CPU time (user + system) per step (or job), µs, start-up to close. */
  workerCpuPerStep: number;
  cost: RedisCost;
};

/**
 * Starts a worker child on work already queued, waits for `jobs` completions, and measures both;
 * `stepsPerJob` turns job rates into step rates.
 */
async function drain(
  redis: Redis,
  options: { kind: WorkerKind; url: string; prefix: string; concurrency: number; cpuProfileDir?: string },
  completedKey: string,
  jobs: number,
  stepsPerJob: number,
): Promise<Drained> {
  const before = await readRedisCounters(redis);
  const child = await startWorkerChild(options);
  let completion: Completion;
  let after: RedisCounters;
  try {
    completion = await waitForCompleted(redis, completedKey, jobs, 600_000);
    after = await readRedisCounters(redis);
  } catch (error) {
    await child.close().catch(() => undefined);
    throw error;
  }
  const { cpuSeconds: workerCpuSeconds } = await child.close();
  const seconds = (completion.endedAt - child.startedAt) / 1000;
  return {
    steadyRate: completion.steadyRate * stepsPerJob,
    overallRate: (jobs * stepsPerJob) / seconds,
    workerCpuPerStep: (workerCpuSeconds * 1e6) / (jobs * stepsPerJob),
    cost: redisCostBetween(before, after, ownPolling(completion)),
  };
}

async function emptied(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true });
  await queue.close();
}

async function plainloopThroughput(
  url: string,
  redis: Redis,
  runs: number,
  concurrency: number,
  cpuProfileDir?: string,
): Promise<Drained> {
  const prefix = 'bench-plainloop';
  // Everything is queued first, the way the API would (`submitRun`), so the worker's rate is measured.
  const { queue } = await submitBenchRuns(redis, prefix, runs);
  const drained = await drain(
    redis,
    { kind: 'plainloop', url, prefix, concurrency, cpuProfileDir },
    queue.keys.completed ?? '',
    runs,
    stepsPerRun,
  );
  await queue.close();
  // The runs' own keys go too, so the next repeat starts from an empty prefix.
  await removeBenchRuns(redis, prefix);
  return drained;
}

async function rawBullmqThroughput(url: string, redis: Redis, jobs: number, concurrency: number) {
  const prefix = 'bench-raw';
  const queue = rawBullmqQueue(redis, prefix);
  await enqueueRawJobs(queue, jobs);
  const drained = await drain(
    redis,
    { kind: 'raw-bullmq', url, prefix, concurrency },
    queue.keys.completed ?? '',
    jobs,
    1,
  );
  await emptied(queue);
  return drained;
}

async function handRolledThroughput(url: string, redis: Redis, runs: number, concurrency: number) {
  const prefix = 'bench-loop';
  const queue = handRolledQueue(redis, prefix);
  await enqueueHandRolledRuns(queue, runs);
  const drained = await drain(
    redis,
    { kind: 'hand-rolled', url, prefix, concurrency },
    queue.keys.completed ?? '',
    runs,
    stepsPerRun,
  );
  await emptied(queue);
  return drained;
}

function best(measurements: Drained[]): Drained {
  return measurements.reduce((left, right) => (right.steadyRate > left.steadyRate ? right : left));
}

export type ThroughputFigures = {
  plainloop: Drained;
  rawBullmq: Drained;
  handRolled: Drained;
  steps: number;
};

export async function throughputScenario(options: {
  url: string;
  redis: Redis;
  runs: number;
  concurrency: number;
  repeat: number;
  cpuProfileDir?: string;
}): Promise<ThroughputFigures> {
  const { url, redis, runs, concurrency, repeat } = options;
  const steps = runs * stepsPerRun;
  console.log(
    `\n## throughput: ${runs} runs × ${stepsPerRun} steps (scripted model, no latency, one tool call per step), ` +
      `one worker process, concurrency ${concurrency}, best of ${repeat}`,
  );
  const sides: Record<'plainloop' | 'rawBullmq' | 'handRolled', Drained[]> = {
    plainloop: [],
    rawBullmq: [],
    handRolled: [],
  };
  for (let round = 0; round < repeat; round += 1) {
    sides.rawBullmq.push(await rawBullmqThroughput(url, redis, steps, concurrency));
    sides.handRolled.push(await handRolledThroughput(url, redis, runs, concurrency));
    // Profiled in the last round only, so the profile is of one measured drain.
    const profile = round === repeat - 1 ? options.cpuProfileDir : undefined;
    sides.plainloop.push(await plainloopThroughput(url, redis, runs, concurrency, profile));
  }
  const plainloop = best(sides.plainloop);
  const rawBullmq = best(sides.rawBullmq);
  const handRolled = best(sides.handRolled);
  const line = (name: string, unit: string, side: Drained[], kept: Drained) =>
    console.log(
      `  ${name} ${kept.steadyRate.toFixed(0)} ${unit} (start to last ${kept.overallRate.toFixed(0)}; ` +
        `every round: ${side.map((one) => one.steadyRate.toFixed(0)).join(', ')}); ` +
        `CPU per ${unit === 'jobs/s ' ? 'job' : 'step'}: worker ${kept.workerCpuPerStep.toFixed(0)} µs, ` +
        `Redis ${((kept.cost.cpuSeconds * 1e6) / steps).toFixed(0)} µs`,
    );
  line('plainloop:       ', 'steps/s', sides.plainloop, plainloop);
  line('raw BullMQ no-op:', 'jobs/s ', sides.rawBullmq, rawBullmq);
  line('hand-rolled loop:', 'steps/s', sides.handRolled, handRolled);
  const vsRaw = plainloop.steadyRate / rawBullmq.steadyRate;
  const vsLoop = plainloop.steadyRate / handRolled.steadyRate;
  console.log(`  ratio plainloop ÷ raw BullMQ:  ${vsRaw.toFixed(2)} (target ≥ 1.0: ${verdict(vsRaw >= 1)})`);
  console.log(
    `  ratio plainloop ÷ hand-rolled: ${vsLoop.toFixed(2)} (target ≥ 1.0: ${verdict(vsLoop >= 1)})`,
  );
  return { plainloop, rawBullmq, handRolled, steps };
}
