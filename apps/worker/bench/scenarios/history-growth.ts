/**
 * History growth: one run of 200 steps at concurrency 1, the worker in the bench process, to see whether
 * a step costs more as the run's history grows. A run that appends each step's messages, events and
 * ledger entries costs the same at step 200 as at step 1; one that rewrites or re-reads its history
 * costs more with every step. For each step it records
 * (a) the step's own time outside its model and tool calls, as the overhead scenario does, and
 * (b) the bytes Redis received during the step: the model call reads `total_net_input_bytes` (INFO
 *     stats) on the bench's own connection as each step starts, and consecutive readings are
 *     subtracted, less the probe's own INFO request (a constant 25 bytes, measured first). The bytes
 *     Redis sent back are taken the same way, less the INFO reply itself.
 * At the end, the run's stored size (`MEMORY USAGE` of each of its keys) per step.
 * "Flat", the bench's own definition: the last window's median ≤ 1.5 × the first's, for both time and
 * bytes written.
 */
import { loadConfig } from '@plainloop/config';
import { createKeySchema, type RedisConnection } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { startWorker } from '../../src/start-worker.ts';
import { type CallProbe, createBenchAgent } from '../bench-agent.ts';
import { removeBenchRuns, submitBenchRuns } from '../bench-runs.ts';
import { percentile, verdict, waitForCompleted, within } from '../harness.ts';

const flatRatio = 1.5;
/** No model call for this long and the run is not waited for any more. */
const stalledMs = 15_000;

type Reading = { received: number; sent: number; replyBytes: number };

/** Redis's byte counters, from `INFO stats`, and the size of the reply's text. */
async function readByteCounters(redis: RedisConnection): Promise<Reading> {
  const text = String(await redis.call('INFO', 'stats'));
  const counter = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1]);
  return {
    received: counter('total_net_input_bytes'),
    sent: counter('total_net_output_bytes'),
    replyBytes: Buffer.byteLength(text),
  };
}

/**
 * What the probe's own INFO costs, from two readings with nothing between them: its request's bytes
 * (25 for `INFO stats` in RESP) and the reply's bytes beyond its text (the framing, which depends on the
 * protocol the connection speaks: RESP3 sends a verbatim string with a `txt:` header).
 */
async function infoCost(
  redis: RedisConnection,
): Promise<{ requestBytes: number; replyFramingBytes: number }> {
  const first = await readByteCounters(redis);
  const second = await readByteCounters(redis);
  return {
    requestBytes: second.received - first.received,
    replyFramingBytes: second.sent - first.sent - first.replyBytes,
  };
}

/** Records every model and tool call, and Redis's byte counters as each model call starts. */
function stepRecorder(redis: RedisConnection, steps: number) {
  const models: number[][] = [];
  const tools: number[][] = [];
  const readings: Reading[] = [];
  // The run has reached its last step, or has made no model call for `stalledMs`: it ended early (the
  // completion poll then tells) or hangs (its timeout then tells).
  let lastCallAt = performance.now();
  let reachedLastStep: () => void = () => undefined;
  const lastStep = new Promise<void>((resolve) => {
    const watch = setInterval(() => {
      if (performance.now() - lastCallAt > stalledMs) reachedLastStep();
    }, 500);
    reachedLastStep = () => {
      clearInterval(watch);
      resolve();
    };
  });
  const probe: CallProbe = {
    async modelStarting() {
      readings.push(await readByteCounters(redis));
      if (readings.length === steps) reachedLastStep();
    },
    model: (startedAt, endedAt) => {
      models.push([startedAt, endedAt]);
      lastCallAt = endedAt;
    },
    tool: (startedAt, endedAt) => tools.push([startedAt, endedAt]),
  };
  return { probe, models, tools, readings, lastStep };
}

type StepFigures = { time: number; written: number; read: number };

/**
 * Each step of the run whose first model call was call `firstCall` that has a next step: its own time
 * (ms) and the bytes written and read until the next step started.
 */
function stepFiguresOf(
  recorder: ReturnType<typeof stepRecorder>,
  probeCost: Awaited<ReturnType<typeof infoCost>>,
  firstCall: number,
): StepFigures[] {
  const { models, tools, readings } = recorder;
  const figures: StepFigures[] = [];
  for (let index = firstCall; index + 1 < models.length; index += 1) {
    const [modelStart = 0, modelEnd = 0] = models[index] ?? [];
    const [toolStart = 0, toolEnd = 0] = tools[index] ?? [];
    const nextStart = models[index + 1]?.[0] ?? Number.NaN;
    const reading = readings[index];
    const next = readings[index + 1];
    figures.push({
      time: nextStart - modelStart - (modelEnd - modelStart) - (toolEnd - toolStart),
      written: next && reading ? next.received - reading.received - probeCost.requestBytes : Number.NaN,
      read:
        next && reading
          ? next.sent - reading.sent - reading.replyBytes - probeCost.replyFramingBytes
          : Number.NaN,
    });
  }
  return figures;
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((left, right) => left - right),
    0.5,
  );
}

/** The run's keys and their sizes in bytes as Redis counts them (`MEMORY USAGE`, every element). */
async function storedSizes(redis: RedisConnection, prefix: string, tenantId: string, runId: string) {
  const sizes: Array<[string, number]> = [];
  for (const [name, key] of Object.entries(createKeySchema(prefix).run(tenantId, runId))) {
    const bytes = await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    if (bytes !== null) sizes.push([name, Number(bytes)]);
  }
  return sizes;
}

export async function historyGrowthScenario(options: { url: string; redis: RedisConnection; steps: number }) {
  const { url, redis, steps } = options;
  const prefix = 'bench-history';
  console.log(
    `\n## history growth: one run of ${steps} steps at concurrency 1 (after one like it to warm up), ` +
      'worker in the bench process',
  );
  // Two alike runs, one after the other: the first warms the code up (its first steps would otherwise
  // be the slowest, and hide any growth), the second is measured.
  const { queue, runs } = await submitBenchRuns(redis, prefix, 2);
  const probeCost = await infoCost(redis);
  const recorder = stepRecorder(redis, 2 * steps);
  const config = loadConfig({
    PLAINLOOP_REDIS_PREFIX: prefix,
    PLAINLOOP_CONCURRENCY: '1',
    PLAINLOOP_LOG_LEVEL: 'error',
  });
  const logger = createLogger({ service: 'bench', level: 'error' });
  const agent = createBenchAgent({ probe: recorder.probe, steps });
  const worker = await startWorker({ config, redisUrl: url, agents: [agent], logger });
  try {
    // Not polled until the last step has started: a poll's bytes would land in some step's count.
    await recorder.lastStep;
    await waitForCompleted(redis, queue.keys.completed ?? '', runs.length, 60_000, 20);
  } finally {
    await within(worker.close(), 60_000, 'closing the worker');
  }
  if (recorder.models.length !== 2 * steps)
    throw new Error(
      `the runs made ${recorder.models.length} model calls, not ${2 * steps}: the scenario is broken`,
    );
  // Either run: they are alike but for their index.
  const { tenantId = '', runId = '' } = runs[0] ?? {};
  const sizes = await storedSizes(redis, prefix, tenantId, runId);
  await queue.close();
  await removeBenchRuns(redis, prefix);

  const figures = stepFiguresOf(recorder, probeCost, steps);
  const windows = [
    [1, 20],
    [Math.round(steps / 2) - 9, Math.round(steps / 2) + 10],
    [steps - 19, steps - 1],
  ] as const;
  const medians = windows.map(([from, to]) => {
    const window = figures.slice(from - 1, to);
    return {
      label: `steps ${from}–${to}`,
      time: median(window.map((step) => step.time)),
      written: median(window.map((step) => step.written)),
      read: median(window.map((step) => step.read)),
    };
  });
  for (const { label, time, written, read } of medians)
    console.log(
      `  ${label.padEnd(14)} step time p50 ${time.toFixed(2)} ms, written ${written.toFixed(0)} B/step, ` +
        `read back ${read.toFixed(0)} B/step (medians)`,
    );
  console.log(
    `  (step ${steps}, the run's last, spans its finish and is left out, as in the overhead scenario; ` +
      `bytes from INFO total_net_input_bytes / total_net_output_bytes, less the probe's own INFO: ` +
      `${probeCost.requestBytes} B sent, its reply read back)`,
  );
  const first = medians[0];
  const last = medians.at(-1);
  const timeRatio = (last?.time ?? Number.NaN) / (first?.time ?? Number.NaN);
  const writtenRatio = (last?.written ?? Number.NaN) / (first?.written ?? Number.NaN);
  const readRatio = (last?.read ?? Number.NaN) / (first?.read ?? Number.NaN);
  console.log(
    `  last ÷ first: step time ${timeRatio.toFixed(2)} (flat, ≤ ${flatRatio}: ${verdict(timeRatio <= flatRatio)}), ` +
      `bytes written ${writtenRatio.toFixed(2)} (flat, ≤ ${flatRatio}: ${verdict(writtenRatio <= flatRatio)}), ` +
      `bytes read ${readRatio.toFixed(2)} (no target); "flat" is this bench's definition`,
  );
  const stored = sizes.reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(
    `  stored: ${stored} B for the run's keys, ${(stored / steps).toFixed(0)} B a step ` +
      `(${sizes.map(([name, bytes]) => `${name} ${bytes}`).join(', ')})`,
  );
}
