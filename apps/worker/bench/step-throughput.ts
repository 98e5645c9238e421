/**
 * `npm run bench`: what the step machine costs on top of BullMQ. Runs 3-step runs of the scripted model
 * (one tool call per step) through one worker, and raw BullMQ no-op jobs through a plain Worker, on
 * the same Redis in the same process, and prints steps/s, per-step overhead and the ratio.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { submitRun } from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { RunEvent, RunRequest } from '@plainloop/contracts';
import {
  connectRedis,
  createKeySchema,
  createRunQueue,
  type PrivateRedisServer,
  queueNames,
  RunStore,
  startPrivateRedisServer,
} from '@plainloop/redis';
import { createLogger, RunEventStream } from '@plainloop/telemetry';
import { Queue, Worker } from 'bullmq';
import { startWorker } from '../src/start-worker.ts';
import { benchAgent } from './bench-agent.ts';

const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '300' } } });
const runs = Number(flags.runs);
const stepsPerRun = 3;
const concurrencies = [1, 8];

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

async function rawBullmq(url: string, prefix: string, concurrency: number, jobs: number): Promise<number> {
  const connection = await connectRedis(url, 'worker');
  const queue = new Queue('bench-noop', { connection, prefix: `{${prefix}}` });
  await queue.addBulk(Array.from({ length: jobs }, (_, index) => ({ name: 'noop', data: { index } })));
  let done = 0;
  const started = performance.now();
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker('bench-noop', async () => ({}), {
      connection,
      prefix: `{${prefix}}`,
      concurrency,
      removeOnComplete: { count: 0 },
    });
    worker.on('completed', () => {
      done += 1;
      if (done === jobs) void worker.close().then(() => resolve());
    });
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return jobs / seconds;
}

const logger = createLogger({ service: 'bench', level: 'error' });

async function plainloopSteps(url: string, prefix: string, concurrency: number) {
  const config = loadConfig({
    PLAINLOOP_REDIS_PREFIX: prefix,
    PLAINLOOP_CONCURRENCY: String(concurrency),
    PLAINLOOP_LOG_LEVEL: 'error',
  });
  const keys = createKeySchema(prefix);
  const producer = await connectRedis(url, 'worker');
  const queue = createRunQueue(producer, keys);
  const store = new RunStore(producer, keys);
  const events = new RunEventStream(producer, keys, { perRun: 1_000, global: 1_000_000 });
  // Enqueue everything first so the worker's throughput, not the producer's, is measured.
  for (let index = 0; index < runs; index += 1) {
    await submitRun(
      { store, queue, events, logger },
      RunRequest.parse({ agent: 'bench', input: { index } }),
      Date.now(),
    );
  }
  const started = performance.now();
  const worker = await startWorker({ config, redisUrl: url, agents: [benchAgent], logger });
  let finished = 0;
  let lastId = '0';
  const stepStarts = new Map<string, number>();
  const stepDurations: number[] = [];
  while (finished < runs) {
    const entries = await producer.xread('COUNT', 5_000, 'BLOCK', 1_000, 'STREAMS', keys.events, lastId);
    for (const [id, fields] of entries?.[0]?.[1] ?? []) {
      lastId = id;
      const event = RunEvent.parse(JSON.parse(fields[1] ?? 'null'));
      if (event.type === 'step.started' || event.type === 'run.finished') {
        const previous = stepStarts.get(event.runId);
        if (previous !== undefined) stepDurations.push(event.at - previous);
        stepStarts.set(event.runId, event.at);
      }
      if (event.type === 'run.finished') finished += 1;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  const queueForCleanup = new Queue(queueNames.runs, { connection: producer, prefix: keys.queuePrefix });
  await queueForCleanup.obliterate({ force: true });
  await queueForCleanup.close();
  await queue.close();
  await producer.quit();
  stepDurations.sort((left, right) => left - right);
  return {
    stepsPerSecond: (runs * stepsPerRun) / seconds,
    p50: percentile(stepDurations, 0.5),
    p99: percentile(stepDurations, 0.99),
  };
}

const configuredUrl = loadConfig().redis.url;
const server: PrivateRedisServer | undefined = configuredUrl ? undefined : await startPrivateRedisServer();
const url = configuredUrl ?? server?.url ?? '';
try {
  console.log(
    `plainloop step benchmark: ${runs} runs × ${stepsPerRun} steps, scripted model, one tool call per step`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, Redis at ${server ? 'a private redis-server' : 'REDIS_URL'}`,
  );
  for (const concurrency of concurrencies) {
    const steps = await plainloopSteps(url, `bench-${concurrency}`, concurrency);
    const noop = await rawBullmq(url, `bench-noop-${concurrency}`, concurrency, runs * stepsPerRun);
    console.log(
      `concurrency ${concurrency}: plainloop ${steps.stepsPerSecond.toFixed(0)} steps/s ` +
        `(per-step wall time p50 ${steps.p50} ms, p99 ${steps.p99} ms); ` +
        `raw BullMQ no-op ${noop.toFixed(0)} jobs/s; ratio steps/jobs ${(steps.stepsPerSecond / noop).toFixed(2)}`,
    );
  }
} finally {
  await server?.stop();
}
