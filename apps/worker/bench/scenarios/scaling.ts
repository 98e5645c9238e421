/**
 * Scaling: the same work through 1, 2 and 4 plainloop worker processes on one Redis, each at the
 * throughput scenario's concurrency with the zero-latency model. Each configuration's runs are queued
 * into a paused queue, and the queue resumed once every process is ready, so all of them start on the
 * work together. The processes of one configuration stay for the next (1, then 1 + 1, then 2 + 2): a
 * worker process takes seconds of CPU to load, and the 2-core machine has none to spare.
 * Printed: the steady steps/s of each configuration and its speed-up over one process. No target: the
 * speed-up is bound by the machine's cores (printed beside it) and, past them, by Redis.
 */
import { availableParallelism } from 'node:os';
import type { RedisConnection } from '@plainloop/redis';
import { stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import {
  closeChildren,
  startWorkerChild,
  throwFirstFailure,
  type WorkerChild,
  waitForQueueDone,
} from '../harness.ts';
import { readRedisCounters } from '../redis-command-stats.ts';

/**
 * Runs per slot in flight at the largest configuration, at least. With fewer, the runs taken together
 * at the start finish together, and the completions the steady rate is read from come in bursts.
 */
const runsPerSlot = 5;

type Configuration = { processes: number; steadyRate: number; redisCpuPerStep: number };

export async function scalingScenario(options: {
  url: string;
  redis: RedisConnection;
  runs: number;
  concurrency: number;
}): Promise<void> {
  const { url, redis, concurrency } = options;
  const processCounts = [1, 2, 4];
  const runs = Math.max(options.runs, runsPerSlot * Math.max(...processCounts) * concurrency);
  const steps = runs * stepsPerRun;
  const cores = availableParallelism();
  console.log(
    `\n## scaling: ${runs} runs × ${stepsPerRun} steps (zero latency) through 1, 2 and 4 worker processes ` +
      `of concurrency ${concurrency} each, one Redis, ${cores} cores`,
  );
  const prefix = 'bench-scaling';
  const children: WorkerChild[] = [];
  const configurations: Configuration[] = [];
  let closed: PromiseSettledResult<unknown>[] = [];
  try {
    for (const processes of processCounts) {
      const { queue } = await submitBenchRuns(redis, prefix, runs, { paused: true });
      try {
        const added = await Promise.all(
          Array.from({ length: processes - children.length }, () =>
            startWorkerChild({ kind: 'plainloop', url, prefix, concurrency }),
          ),
        );
        children.push(...added);
        await Promise.all(children.map((child) => child.ready()));
        const before = await readRedisCounters(redis);
        await queue.resume();
        const completion = await waitForQueueDone(queue, runs, 60_000 + steps * 10, 5);
        const after = await readRedisCounters(redis);
        configurations.push({
          processes,
          steadyRate: completion.steadyRate * stepsPerRun,
          redisCpuPerStep: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / steps,
        });
      } finally {
        await queue.close();
      }
    }
  } finally {
    closed = await closeChildren(children);
    await removeBenchRuns(redis, prefix);
  }
  throwFirstFailure(closed);
  const single = configurations[0]?.steadyRate ?? Number.NaN;
  for (const { processes, steadyRate, redisCpuPerStep } of configurations)
    console.log(
      `  ${processes} process${processes === 1 ? '  ' : 'es'}: ${steadyRate.toFixed(0)} steps/s, ` +
        `speed-up ${(steadyRate / single).toFixed(2)}× over 1 (no target); Redis CPU ${redisCpuPerStep.toFixed(0)} µs a step`,
    );
  if (cores < Math.max(...processCounts))
    console.log(
      `  (${cores} cores for the workers, Redis and the bench: more processes than that cannot beat ${cores})`,
    );
  if (runs > options.runs)
    console.log(
      `  (${runs} runs, not ${options.runs}: at least ${runsPerSlot} a slot in flight at 4 processes)`,
    );
}
