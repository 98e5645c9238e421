/**
 * `npm run bench`: plainloop's performance scenarios, each beside its baselines, in one run on one Redis
 * (a private redis-server unless REDIS_URL is set). Prints the machine, then each scenario's figures
 * with their targets. Timings are printed, never asserted: slow figures do not fail the command.
 * The throughput scenario's baselines are raw BullMQ, the hand-rolled loop, the minimal hand-rolled loop
 * and `@openai/agents` in memory (no Redis); each side's worker CPU, Redis CPU and client commands a step.
 *
 *   npm run bench                      full mode, the sizes (minutes)
 *   npm run bench -- --quick           small enough for CI (under two minutes on 2 cores)
 *   npm run bench -- --runs 2000       runs of each throughput side and of scaling (overhead: a third)
 *   npm run bench -- --repeat 5        rounds of the throughput scenario, best kept (full: 3, quick: 1)
 *   npm run bench -- --cpu-prof DIR    write the plainloop worker's CPU profiles of the throughput and concurrency scenarios to DIR
 *   npm run bench -- --cluster         the cluster scenario alone, on a private six-node Redis Cluster
 *                                      (or the cluster REDIS_URL names): each master's Redis CPU a step
 *                                      and the spread of the load over the shards (--runs: default 10,000)
 *   npm run bench -- --only concurrency,scaling
 *                                      run only these scenarios (of throughput, overhead, redis-cost,
 *                                      redis-floor, concurrency, history-growth, scaling; redis-cost
 *                                      brings overhead)
 */
import { parseArgs } from 'node:util';
import { loadConfig, parseRedisAddress } from '@plainloop/config';
import {
  connectRedis,
  isCluster,
  type PrivateRedisCluster,
  type PrivateRedisServer,
  startPrivateRedisCluster,
  startPrivateRedisServer,
} from '@plainloop/redis';
import { describeMachine } from './harness.ts';
import { clusterScenario } from './scenarios/cluster.ts';
import { concurrencyScenario } from './scenarios/concurrency.ts';
import { historyGrowthScenario } from './scenarios/history-growth.ts';
import { overheadScenario } from './scenarios/overhead.ts';
import { redisCostScenario } from './scenarios/redis-cost.ts';
import { redisFloorScenario } from './scenarios/redis-floor.ts';
import { scalingScenario } from './scenarios/scaling.ts';
import { throughputScenario } from './scenarios/throughput.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    repeat: { type: 'string' },
    'cpu-prof': { type: 'string' },
    only: { type: 'string' },
    cluster: { type: 'boolean', default: false },
  },
});
const scenarioNames = [
  'throughput',
  'overhead',
  'redis-cost',
  'redis-floor',
  'concurrency',
  'history-growth',
  'scaling',
];
const only = flags.only?.split(',').map((name) => name.trim()) ?? scenarioNames;
const unknown = only.filter((name) => !scenarioNames.includes(name));
if (unknown.length > 0)
  throw new Error(`--only: no scenario named ${unknown.join(', ')} (there are ${scenarioNames.join(', ')})`);
// The Redis cost scenario prints the overhead scenario's figures beside its own.
const selected = new Set(only.includes('redis-cost') ? [...only, 'overhead'] : only);
const runs = Number(flags.runs ?? (flags.quick ? 500 : 2_000));
const repeat = Number(flags.repeat ?? (flags.quick ? 1 : 3));
const overheadRuns = Math.max(10, Math.round(runs / 3));
const concurrency = 100;
// The sizes: 10,000 runs in flight, each model call 1 s, long enough to reach a steady rate.
// Quick mode keeps the shape at a fifth of the runs in flight, to stay within CI's minutes.
const inFlight = flags.quick ? 2_000 : 10_000;
const concurrencyRuns = flags.quick ? 4_000 : 30_000;
const modelLatencyMs = 1_000;
const historySteps = 200;

const configuredUrl = loadConfig().redis.url;
if (flags.cluster) {
  await benchOnCluster(configuredUrl);
  process.exit(0);
}

/** `--cluster`: the cluster scenario alone, on the cluster REDIS_URL names or on a private one. */
async function benchOnCluster(url: string | undefined): Promise<void> {
  if (url && parseRedisAddress(url).mode !== 'cluster')
    throw new Error(
      '--cluster: REDIS_URL names one Redis; unset it, or name a cluster (redis+cluster://...)',
    );
  const cluster: PrivateRedisCluster | undefined = url ? undefined : await startPrivateRedisCluster();
  const clusterUrl = url ?? cluster?.url ?? '';
  const redis = await connectRedis(clusterUrl, 'worker', 'bench');
  try {
    if (!isCluster(redis)) throw new Error('--cluster: not a cluster connection');
    console.log(`# plainloop bench (cluster mode), ${new Date().toISOString()}`);
    console.log(await describeMachine(redis, cluster ? 'a private six-node cluster' : 'REDIS_URL'));
    await clusterScenario({ url: clusterUrl, redis, runs: Number(flags.runs ?? 10_000), concurrency });
  } finally {
    await redis.quit();
    await cluster?.stop();
  }
}

const server: PrivateRedisServer | undefined = configuredUrl ? undefined : await startPrivateRedisServer();
const url = configuredUrl ?? server?.url ?? '';
const redis = await connectRedis(url, 'worker', 'bench');
try {
  console.log(`# plainloop bench (${flags.quick ? 'quick' : 'full'} mode), ${new Date().toISOString()}`);
  console.log(await describeMachine(redis, server ? 'a private redis-server' : 'REDIS_URL'));
  const throughput = selected.has('throughput')
    ? await throughputScenario({ url, redis, runs, concurrency, repeat, cpuProfileDir: flags['cpu-prof'] })
    : undefined;
  const overhead = selected.has('overhead')
    ? await overheadScenario({ url, redis, runs: overheadRuns })
    : undefined;
  if (selected.has('redis-cost') && overhead)
    await redisCostScenario({
      url,
      redis,
      runs: overheadRuns,
      plainloopAtOne: overhead.cost,
      ...(throughput && {
        atHundred: {
          plainloop: throughput.plainloop.cost,
          handRolled: throughput.handRolled.cost,
          steps: throughput.steps,
        },
      }),
    });
  if (selected.has('redis-floor'))
    await redisFloorScenario({
      redis,
      runs: runs * 10,
      ...(throughput && {
        measured: {
          rawJob: throughput.rawBullmq.redisCpuPerStep,
          handRolledStep: throughput.handRolled.redisCpuPerStep,
        },
      }),
    });
  // Before the concurrency scenario, which leaves 30,000 runs for Redis and this process to let go of:
  // a step at concurrency 1 is a millisecond of round trips, and that clean-up showed in its last steps.
  if (selected.has('history-growth')) await historyGrowthScenario({ url, redis, steps: historySteps });
  if (selected.has('concurrency'))
    await concurrencyScenario({
      url,
      redis,
      inFlight,
      runs: concurrencyRuns,
      modelLatencyMs,
      zeroLatencyRate: throughput?.plainloop.steadyRate,
      cpuProfileDir: flags['cpu-prof'],
      ...(flags.quick && {
        scaledDown: `quick mode; the issue's figure is 10,000 in flight (full mode, ${(30_000).toLocaleString('en')} runs)`,
      }),
    });
  if (selected.has('scaling')) await scalingScenario({ url, redis, runs, concurrency });
} finally {
  await redis.quit();
  await server?.stop();
}
