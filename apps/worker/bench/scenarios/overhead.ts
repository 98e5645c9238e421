/**
 * Overhead: the time a step spends outside its model and tool calls, at concurrency 1, in this process
 * (one run at a time, so the calls of consecutive steps follow each other). Each model and tool call is
 * timed with `performance.now()`; a step's span runs from its model call's start to the next step's, and
 * its overhead is that span less the step's model and tool time: the decide checkpoint, validation,
 * the tool-result checkpoint, the commit, admitting the next step and building its context. The last
 * step of a run spans the run's finish and the take of the next run as well; it is reported on its own.
 * Targets: p50 ≤ 1 ms, p99 ≤ 5 ms. Also measures what the same work costs Redis (see redis-cost.ts).
 */
import { loadConfig } from '@plainloop/config';
import type { RedisConnection } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { startWorker } from '../../src/start-worker.ts';
import { type CallProbe, createBenchAgent, stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import { ownPolling, percentile, verdict, waitForCompleted } from '../harness.ts';
import { type RedisCost, readRedisCounters, redisCostBetween } from '../redis-command-stats.ts';

/** Records every model and tool call, in the order they happen. */
function callRecorder(): CallProbe & { models: number[][]; tools: number[][] } {
  const models: number[][] = [];
  const tools: number[][] = [];
  return {
    models,
    tools,
    model: (startedAt, endedAt) => models.push([startedAt, endedAt]),
    tool: (startedAt, endedAt) => tools.push([startedAt, endedAt]),
  };
}

type StepTimes = {
  /** Overhead of each step that is not a run's last, ms, sorted. */
  steps: number[];
  /** Overhead of each run's last step together with its finish and the next run's take, ms, sorted. */
  runEnds: number[];
  /** Model and tool time per step, mean ms. */
  callsMean: number;
};

/** Splits a sequential recording of `stepsPerRun`-step runs into per-step overheads. */
function stepTimesOf(recorder: ReturnType<typeof callRecorder>): StepTimes {
  const steps: number[] = [];
  const runEnds: number[] = [];
  let calls = 0;
  const { models, tools } = recorder;
  for (let index = 0; index < models.length; index += 1) {
    const [modelStart = 0, modelEnd = 0] = models[index] ?? [];
    const [toolStart = 0, toolEnd = 0] = tools[index] ?? [];
    calls += modelEnd - modelStart + (toolEnd - toolStart);
    const next = models[index + 1]?.[0];
    if (next === undefined) continue;
    const overhead = next - modelStart - (modelEnd - modelStart) - (toolEnd - toolStart);
    if (index % stepsPerRun === stepsPerRun - 1) runEnds.push(overhead);
    else steps.push(overhead);
  }
  steps.sort((left, right) => left - right);
  runEnds.sort((left, right) => left - right);
  return { steps, runEnds, callsMean: calls / Math.max(1, models.length) };
}

export type OverheadFigures = { times: StepTimes; cost: RedisCost; steps: number; seconds: number };

export async function overheadScenario(options: {
  url: string;
  redis: RedisConnection;
  runs: number;
}): Promise<OverheadFigures> {
  const { url, redis, runs } = options;
  const prefix = 'bench-overhead';
  console.log(
    `\n## overhead: ${runs} runs × ${stepsPerRun} steps at concurrency 1, worker in the bench process`,
  );
  const { queue } = await submitBenchRuns(redis, prefix, runs);
  const logger = createLogger({ service: 'bench', level: 'error' });
  const recorder = callRecorder();
  const config = loadConfig({
    PLAINLOOP_REDIS_PREFIX: prefix,
    PLAINLOOP_CONCURRENCY: '1',
    PLAINLOOP_LOG_LEVEL: 'error',
  });
  const before = await readRedisCounters(redis);
  const startedAt = performance.now();
  const worker = await startWorker({
    config,
    redisUrl: url,
    agents: [createBenchAgent({ probe: recorder })],
    logger,
  });
  // Polled seldom: the worker shares this event loop, and the poll's replies would land mid-step.
  const completion = await waitForCompleted(redis, queue.keys.completed ?? '', runs, 600_000, 100);
  const after = await readRedisCounters(redis);
  await worker.close();
  await queue.close();
  await removeBenchRuns(redis, prefix);

  const times = stepTimesOf(recorder);
  const p50 = percentile(times.steps, 0.5);
  const p99 = percentile(times.steps, 0.99);
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.log(
    `  per-step overhead (${times.steps.length} steps): p50 ${ms(p50)} (target ≤ 1 ms: ${verdict(p50 <= 1)}), ` +
      `p99 ${ms(p99)} (target ≤ 5 ms: ${verdict(p99 <= 5)}), max ${ms(times.steps.at(-1) ?? Number.NaN)}`,
  );
  console.log(
    `  last step + finish + next take (${times.runEnds.length} runs): p50 ${ms(percentile(times.runEnds, 0.5))}, p99 ${ms(percentile(times.runEnds, 0.99))}`,
  );
  const steps = runs * stepsPerRun;
  const seconds = (completion.endedAt - startedAt) / 1000;
  console.log(
    `  all in: ${(steps / seconds).toFixed(0)} steps/s, ${ms((seconds * 1000) / steps)} a step including take and finish; model + tool calls ${ms(times.callsMean)} a step`,
  );
  return { times, cost: redisCostBetween(before, after, ownPolling(completion)), steps, seconds };
}
