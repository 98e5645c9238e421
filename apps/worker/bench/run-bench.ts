/**
 * `npm run bench`: plainloop's performance scenarios, each beside its baselines, in one run on one Redis
 * (a private redis-server unless REDIS_URL is set). Prints the machine, then each scenario's figures
 * with their targets. Timings are printed, never asserted: slow figures do not fail the command.
 *
 *   npm run bench                      full mode
 *   npm run bench -- --quick           small enough for CI (seconds)
 *   npm run bench -- --runs 2000       runs in the throughput scenario (the overhead scenario uses a third)
 *   npm run bench -- --repeat 5        rounds of the throughput scenario, best kept (full: 3, quick: 1)
 *   npm run bench -- --cpu-prof DIR    write the plainloop worker's CPU profile of the throughput scenario to DIR
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '@plainloop/config';
import { connectRedis, type PrivateRedisServer, startPrivateRedisServer } from '@plainloop/redis';
import { describeMachine } from './harness.ts';
import { overheadScenario } from './scenarios/overhead.ts';
import { redisCostScenario } from './scenarios/redis-cost.ts';
import { throughputScenario } from './scenarios/throughput.ts';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    repeat: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const runs = Number(flags.runs ?? (flags.quick ? 500 : 2_000));
const repeat = Number(flags.repeat ?? (flags.quick ? 1 : 3));
const overheadRuns = Math.max(10, Math.round(runs / 3));
const concurrency = 100;

const configuredUrl = loadConfig().redis.url;
const server: PrivateRedisServer | undefined = configuredUrl ? undefined : await startPrivateRedisServer();
const url = configuredUrl ?? server?.url ?? '';
const redis = await connectRedis(url, 'worker', 'bench');
try {
  console.log(`# plainloop bench (${flags.quick ? 'quick' : 'full'} mode), ${new Date().toISOString()}`);
  console.log(await describeMachine(redis, server ? 'a private redis-server' : 'REDIS_URL'));
  const throughput = await throughputScenario({
    url,
    redis,
    runs,
    concurrency,
    repeat,
    cpuProfileDir: flags['cpu-prof'],
  });
  const overhead = await overheadScenario({ url, redis, runs: overheadRuns });
  await redisCostScenario({
    url,
    redis,
    runs: overheadRuns,
    plainloopAtOne: overhead.cost,
    atHundred: {
      plainloop: throughput.plainloop.cost,
      handRolled: throughput.handRolled.cost,
      steps: throughput.steps,
    },
  });
} finally {
  await redis.quit();
  await server?.stop();
}
