/**
 * Redis cost: commands and round trips per step, from `INFO commandstats` / `INFO stats` deltas,
 * plainloop beside the hand-rolled loop. At concurrency 1 (the overhead scenario's plainloop runs, and
 * the hand-rolled loop run here the same way) a round trip is one read; the concurrency-100 figures
 * from the throughput scenario are printed too. No target: the figures explain the others.
 */
import type { RedisConnection } from '@plainloop/redis';
import {
  enqueueHandRolledRuns,
  handRolledQueue,
  startHandRolledWorker,
} from '../baselines/hand-rolled-loop.ts';
import { stepsPerRun } from '../bench-agent.ts';
import { ownPolling, waitForCompleted } from '../harness.ts';
import {
  formatRedisCost,
  type RedisCost,
  readRedisCounters,
  redisCostBetween,
} from '../redis-command-stats.ts';

export async function redisCostScenario(options: {
  url: string;
  redis: RedisConnection;
  runs: number;
  plainloopAtOne: RedisCost;
  atHundred?: { plainloop: RedisCost; handRolled: RedisCost; steps: number };
}): Promise<{ handRolledAtOne: RedisCost }> {
  const { url, redis, runs } = options;
  const steps = runs * stepsPerRun;
  console.log(`\n## Redis cost per step (${runs} runs × ${stepsPerRun} steps at concurrency 1)`);
  const prefix = 'bench-loop-cost';
  const queue = handRolledQueue(redis, prefix);
  await enqueueHandRolledRuns(queue, runs);
  const before = await readRedisCounters(redis);
  const worker = await startHandRolledWorker(url, prefix, 1);
  const completion = await waitForCompleted(redis, queue.keys.completed ?? '', runs, 600_000);
  const after = await readRedisCounters(redis);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  const handRolledAtOne = redisCostBetween(before, after, ownPolling(completion));
  console.log(`  plainloop:   ${formatRedisCost(options.plainloopAtOne, steps, 10)}`);
  console.log(`  hand-rolled: ${formatRedisCost(handRolledAtOne, steps, 10)}`);
  const ratio = (key: 'commands' | 'roundTrips') =>
    (options.plainloopAtOne[key] / Math.max(1, handRolledAtOne[key])).toFixed(1);
  console.log(
    `  plainloop ÷ hand-rolled: ${ratio('commands')}× the commands, ${ratio('roundTrips')}× the round trips`,
  );
  if (options.atHundred) {
    const { plainloop, handRolled, steps: stepsAtHundred } = options.atHundred;
    console.log('  at concurrency 100 (throughput scenario; reads undercount round trips under load):');
    console.log(`    plainloop:   ${formatRedisCost(plainloop, stepsAtHundred)}`);
    console.log(`    hand-rolled: ${formatRedisCost(handRolled, stepsAtHundred)}`);
  }
  return { handRolledAtOne };
}
