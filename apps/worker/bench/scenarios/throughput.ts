/**
 * Throughput: 3-step runs of the scripted zero-latency model (one tool call per step) through one
 * plainloop worker process at concurrency 100, beside four baselines, each in its own child process with
 * 100 runs (or jobs) in flight, one after the other on the same Redis:
 * (a) raw BullMQ no-op jobs, one per plainloop step;
 * (b) the hand-rolled loop, a BullMQ job per run that calls the bench agent's scripted model (a
 *     `LanguageModel` fed the run's typed messages) and the tool, and saves a new copy of its state,
 *     messages and all, after each step;
 * (c) the minimal hand-rolled loop, a BullMQ job per run with no model object and no message types:
 *     each step pushes the answer and the tool's result onto one plain array in the job's data and saves
 *     it; so (b) less the model call, the message building and the state's copies, the floor of a loop
 *     on BullMQ;
 * (d) `@openai/agents` in memory, no Redis or BullMQ: a zero-latency `Model` asking for one `lookup`
 *     tool call each time, 100 runs at once from a promise pool, tracing off.
 * Each side is measured `repeat` times, interleaved, and its best rate kept (a busy machine only ever
 * slows a side down). The rate is the steady one, between 10 % and 90 % of the work done, so worker
 * start-up and the tail do not count; the start-to-last figure is printed beside it. Every side also
 * reports its worker's CPU, the Redis server's CPU and the commands its worker process sent (counted
 * in the process, on every connection), each per step.
 * Targets: plainloop steps/s ÷ the hand-rolled loop's and ÷ raw BullMQ's ≥ 1.0, ÷ `@openai/agents`'
 * ≥ 3.0 (÷ the minimal loop's is printed, aiming at 1.0); plainloop's worker CPU ≤ 200 µs a step, its
 * Redis CPU a step ≤ the hand-rolled loop's, and ≤ 2 client commands a step.
 */
import type { RedisConnection } from '@plainloop/redis';
import type { Queue } from 'bullmq';
import { enqueueHandRolledRuns, handRolledQueue } from '../baselines/hand-rolled-loop.ts';
import { enqueueMinimalLoopRuns, minimalLoopQueue } from '../baselines/minimal-loop.ts';
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

/** One side's measurement: steps (or no-op jobs) per second, steady and start to last, and its costs. */
type Measured = {
  steadyRate: number;
  overallRate: number;
  /** The worker process's CPU time (user + system) per step (or job), µs, start-up to close. */
  workerCpuPerStep: number;
  /** Commands the worker process sent to Redis per step (or job), start-up to close. */
  clientCommandsPerStep: number;
};

/** A side on Redis: also what the Redis server spent. */
type Drained = Measured & {
  cost: RedisCost;
  /** The Redis server's CPU time per step (or job), µs. */
  redisCpuPerStep: number;
};

/**
 * Starts a worker child on work already queued, waits for `jobs` completions, and measures both;
 * `stepsPerJob` turns job rates into step rates.
 */
async function drain(
  redis: RedisConnection,
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
  const { cpuSeconds: workerCpuSeconds, clientCommands } = await child.close();
  const seconds = (completion.endedAt - child.startedAt) / 1000;
  const steps = jobs * stepsPerJob;
  const cost = redisCostBetween(before, after, ownPolling(completion));
  return {
    steadyRate: completion.steadyRate * stepsPerJob,
    overallRate: steps / seconds,
    workerCpuPerStep: (workerCpuSeconds * 1e6) / steps,
    clientCommandsPerStep: clientCommands / steps,
    cost,
    redisCpuPerStep: (cost.cpuSeconds * 1e6) / steps,
  };
}

async function emptied(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true });
  await queue.close();
}

async function plainloopThroughput(
  url: string,
  redis: RedisConnection,
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

async function rawBullmqThroughput(url: string, redis: RedisConnection, jobs: number, concurrency: number) {
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

async function handRolledThroughput(url: string, redis: RedisConnection, runs: number, concurrency: number) {
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

async function minimalLoopThroughput(url: string, redis: RedisConnection, runs: number, concurrency: number) {
  const prefix = 'bench-minimal';
  const queue = minimalLoopQueue(redis, prefix);
  await enqueueMinimalLoopRuns(queue, runs);
  const drained = await drain(
    redis,
    { kind: 'minimal-loop', url, prefix, concurrency },
    queue.keys.completed ?? '',
    runs,
    stepsPerRun,
  );
  await emptied(queue);
  return drained;
}

/**
 * The `@openai/agents` side: its child does the runs in memory and keeps its own steady rate, as there
 * is no queue to poll; it sends no Redis commands (the count says so if it ever did).
 */
async function openAiAgentsThroughput(url: string, runs: number, concurrency: number): Promise<Measured> {
  const child = await startWorkerChild({ kind: 'openai-agents', url, prefix: 'unused', concurrency, runs });
  let finished: { steadyRate: number; seconds: number };
  try {
    finished = await child.finished();
  } catch (error) {
    await child.close().catch(() => undefined);
    throw error;
  }
  const { cpuSeconds: workerCpuSeconds, clientCommands } = await child.close();
  const steps = runs * stepsPerRun;
  return {
    steadyRate: finished.steadyRate * stepsPerRun,
    overallRate: steps / finished.seconds,
    workerCpuPerStep: (workerCpuSeconds * 1e6) / steps,
    clientCommandsPerStep: clientCommands / steps,
  };
}

function best<Side extends Measured>(measurements: Side[]): Side {
  return measurements.reduce((left, right) => (right.steadyRate > left.steadyRate ? right : left));
}

/** A printed figure and whether it met its target. */
type Target = { value: number; met: boolean };

export type ThroughputFigures = {
  plainloop: Drained;
  rawBullmq: Drained;
  handRolled: Drained;
  minimalLoop: Drained;
  openAiAgents: Measured;
  steps: number;
  /** plainloop's steady steps/s ÷ each baseline's; the minimal loop's has an aim, not a target. */
  ratios: { handRolled: Target; rawBullmq: Target; openAiAgents: Target; minimalLoop: number };
  /** plainloop's own costs a step: worker CPU (µs), Redis CPU (µs) and client commands. */
  costs: { workerCpuPerStep: Target; redisCpuPerStep: Target; clientCommandsPerStep: Target };
};

export async function throughputScenario(options: {
  url: string;
  redis: RedisConnection;
  runs: number;
  concurrency: number;
  repeat: number;
  cpuProfileDir?: string;
}): Promise<ThroughputFigures> {
  const { url, redis, runs, concurrency, repeat } = options;
  const steps = runs * stepsPerRun;
  console.log(
    `\n## throughput: ${runs} runs × ${stepsPerRun} steps (scripted model, no latency, one tool call per step), ` +
      `one worker process a side, concurrency ${concurrency}, best of ${repeat}`,
  );
  const sides = {
    plainloop: [] as Drained[],
    rawBullmq: [] as Drained[],
    handRolled: [] as Drained[],
    minimalLoop: [] as Drained[],
    openAiAgents: [] as Measured[],
  };
  for (let round = 0; round < repeat; round += 1) {
    sides.rawBullmq.push(await rawBullmqThroughput(url, redis, steps, concurrency));
    sides.handRolled.push(await handRolledThroughput(url, redis, runs, concurrency));
    sides.minimalLoop.push(await minimalLoopThroughput(url, redis, runs, concurrency));
    sides.openAiAgents.push(await openAiAgentsThroughput(url, runs, concurrency));
    // Profiled in the last round only, so the profile is of one measured drain.
    const profile = round === repeat - 1 ? options.cpuProfileDir : undefined;
    sides.plainloop.push(await plainloopThroughput(url, redis, runs, concurrency, profile));
  }
  const plainloop = best(sides.plainloop);
  const rawBullmq = best(sides.rawBullmq);
  const handRolled = best(sides.handRolled);
  const minimalLoop = best(sides.minimalLoop);
  const openAiAgents = best(sides.openAiAgents);
  const line = (
    name: string,
    unit: 'steps/s' | 'jobs/s ',
    side: Measured[],
    kept: Measured,
    redisCpu: string,
  ) => {
    const per = unit === 'jobs/s ' ? 'job' : 'step';
    console.log(
      `  ${name} ${kept.steadyRate.toFixed(0)} ${unit} (start to last ${kept.overallRate.toFixed(0)}; ` +
        `every round: ${side.map((one) => one.steadyRate.toFixed(0)).join(', ')}); ` +
        `per ${per}: worker CPU ${kept.workerCpuPerStep.toFixed(0)} µs, Redis CPU ${redisCpu}, ` +
        `client commands ${kept.clientCommandsPerStep.toFixed(2)}`,
    );
  };
  const redisCpuOf = (kept: Drained) => `${kept.redisCpuPerStep.toFixed(0)} µs`;
  line('plainloop:             ', 'steps/s', sides.plainloop, plainloop, redisCpuOf(plainloop));
  line('raw BullMQ no-op:      ', 'jobs/s ', sides.rawBullmq, rawBullmq, redisCpuOf(rawBullmq));
  line('hand-rolled loop:      ', 'steps/s', sides.handRolled, handRolled, redisCpuOf(handRolled));
  line('minimal hand-rolled:   ', 'steps/s', sides.minimalLoop, minimalLoop, redisCpuOf(minimalLoop));
  line('@openai/agents 0.20.0: ', 'steps/s', sides.openAiAgents, openAiAgents, '—');
  console.log('    (@openai/agents: in memory, no Redis, no BullMQ, no persistence; tracing off)');
  const ratio = (baseline: Measured, at: number): Target => {
    const value = plainloop.steadyRate / baseline.steadyRate;
    return { value, met: value >= at };
  };
  const ratios = {
    handRolled: ratio(handRolled, 1),
    rawBullmq: ratio(rawBullmq, 1),
    openAiAgents: ratio(openAiAgents, 3),
    minimalLoop: plainloop.steadyRate / minimalLoop.steadyRate,
  };
  const costs = {
    workerCpuPerStep: { value: plainloop.workerCpuPerStep, met: plainloop.workerCpuPerStep <= 200 },
    redisCpuPerStep: {
      value: plainloop.redisCpuPerStep,
      met: plainloop.redisCpuPerStep <= handRolled.redisCpuPerStep,
    },
    clientCommandsPerStep: {
      value: plainloop.clientCommandsPerStep,
      met: plainloop.clientCommandsPerStep <= 2,
    },
  };
  const show = (name: string, figure: Target, target: string, digits = 2) =>
    console.log(`  ${name} ${figure.value.toFixed(digits)} (target ${target}: ${verdict(figure.met)})`);
  show('ratio plainloop ÷ hand-rolled:        ', ratios.handRolled, '≥ 1.0');
  show('ratio plainloop ÷ raw BullMQ:         ', ratios.rawBullmq, '≥ 1.0');
  show('ratio plainloop ÷ @openai/agents:     ', ratios.openAiAgents, '≥ 3.0');
  console.log(`  ratio plainloop ÷ minimal hand-rolled: ${ratios.minimalLoop.toFixed(2)} (aim 1.0)`);
  show('plainloop worker CPU per step, µs:    ', costs.workerCpuPerStep, '≤ 200', 0);
  show(
    'plainloop Redis CPU per step, µs:     ',
    costs.redisCpuPerStep,
    `≤ the hand-rolled loop's ${handRolled.redisCpuPerStep.toFixed(0)}`,
    0,
  );
  show('plainloop client commands per step:   ', costs.clientCommandsPerStep, '≤ 2');
  return { plainloop, rawBullmq, handRolled, minimalLoop, openAiAgents, steps, ratios, costs };
}
