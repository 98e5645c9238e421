/**
 * Concurrency: thousands of runs in flight in one worker process, each model call taking a second, the
 * way real models do. One plainloop worker process at concurrency `inFlight` drains `runs` 3-step runs
 * of the bench agent whose model waits `modelLatencyMs` before answering. Ideally each of the runs in
 * flight takes a step per latency, unless the worker's CPU cannot keep up: the ideal is the lesser of
 * `inFlight ÷ latency` and the zero-latency rate the throughput scenario measured in the same bench run.
 * Targets: steady steps/s ≥ 90 % of that ideal, the worker process's peak RSS ≤ 1 GiB.
 */
import type { RedisConnection } from '@plainloop/redis';
import { stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import { type Completion, startWorkerChild, verdict, waitForQueueDone } from '../harness.ts';

const rateTarget = 0.9;
const rssTargetBytes = 2 ** 30;

/**
 * The heap Node gives itself in the worker's container: half its memory limit (1 GiB in
 * ops/k8s/worker.yaml), as Node 20 sizes its heap from the cgroup limit. Outside a container, on this
 * 24 GiB machine, Node would let the heap grow to about 4 GiB before a full collection, which says
 * nothing about what a deployed worker needs.
 */
const containerHeapMib = 512;

export async function concurrencyScenario(options: {
  url: string;
  redis: RedisConnection;
  inFlight: number;
  runs: number;
  modelLatencyMs: number;
  /** The throughput scenario's plainloop steady rate, steps/s, when it ran. */
  zeroLatencyRate: number | undefined;
  /** Why the sizes are smaller than the issue's, when they are (quick mode). */
  scaledDown?: string;
  /** Where to write the worker's CPU profile, if anywhere. */
  cpuProfileDir?: string | undefined;
}): Promise<void> {
  const { url, redis, inFlight, runs, modelLatencyMs, zeroLatencyRate } = options;
  const steps = runs * stepsPerRun;
  console.log(
    `\n## concurrency: ${runs} runs × ${stepsPerRun} steps, ${inFlight} in flight in one worker process, ` +
      `model latency ${modelLatencyMs} ms`,
  );
  if (options.scaledDown) console.log(`  scaled down: ${options.scaledDown}`);
  const prefix = 'bench-concurrency';
  const { queue } = await submitBenchRuns(redis, prefix, runs);
  const child = await startWorkerChild({
    kind: 'plainloop',
    url,
    prefix,
    concurrency: inFlight,
    modelLatencyMs,
    maxOldSpaceMib: containerHeapMib,
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
  });
  let completion: Completion;
  try {
    // Generous: the worker may be far slower than ideal, and that is what the figure is to show; a
    // minute is added for start-up and the last runs' latency.
    completion = await waitForQueueDone(queue, runs, 60_000 + steps * 10, 20);
  } catch (error) {
    await child.close().catch(() => undefined);
    throw error;
  }
  const report = await child.close();
  await queue.close();
  await removeBenchRuns(redis, prefix);

  const steadyRate = completion.steadyRate * stepsPerRun;
  const latencyBound = inFlight / (modelLatencyMs / 1000);
  const ideal = Math.min(latencyBound, zeroLatencyRate ?? Number.POSITIVE_INFINITY);
  const ratio = steadyRate / ideal;
  const idealSource =
    zeroLatencyRate === undefined
      ? `${inFlight} ÷ ${modelLatencyMs / 1000} s; the throughput scenario did not run, so the CPU bound is unknown`
      : `the lesser of ${inFlight} ÷ ${modelLatencyMs / 1000} s = ${latencyBound.toFixed(0)} and the zero-latency ` +
        `throughput ${zeroLatencyRate.toFixed(0)}`;
  console.log(
    `  worker heap limited to ${containerHeapMib} MiB (--max-old-space-size), as Node sets it in the worker's 1 GiB container`,
  );
  console.log(
    `  ${steadyRate.toFixed(0)} steps/s steady (start to last ${(steps / ((completion.endedAt - child.startedAt) / 1000)).toFixed(0)}); ` +
      `ideal ${ideal.toFixed(0)} (${idealSource})`,
  );
  console.log(
    `  ratio to ideal: ${ratio.toFixed(2)} (target ≥ ${rateTarget}: ${verdict(ratio >= rateTarget)})`,
  );
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  console.log(
    `  worker peak RSS: ${gib(report.peakRssBytes)} (target ≤ 1 GiB: ${verdict(report.peakRssBytes <= rssTargetBytes)}); ` +
      `CPU per step ${((report.cpuSeconds * 1e6) / steps).toFixed(0)} µs; event-loop delay ` +
      `p99 ${report.eventLoopDelayMs.p99.toFixed(0)} ms, max ${report.eventLoopDelayMs.max.toFixed(0)} ms`,
  );
}
