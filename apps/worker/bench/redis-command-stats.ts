/**
 * What a scenario costs Redis, from `INFO stats` and `INFO commandstats` taken before and after it.
 * Commands are every command Redis executed, those a Lua script calls included (Redis 7 counts them in
 * commandstats); scripts are the EVAL/EVALSHA/FCALL calls; round trips are `total_reads_processed`,
 * the socket reads Redis made, one per request or pipeline that arrived on its own. Under load several
 * requests on one connection can arrive in one read, so at high concurrency this undercounts; at
 * concurrency 1 it is the round-trip count. Redis CPU is `used_cpu_user` + `used_cpu_sys` (INFO cpu).
 */
import type { RedisConnection } from '@plainloop/redis';

export type RedisCounters = { calls: Map<string, number>; reads: number; cpuSeconds: number };

export async function readRedisCounters(redis: RedisConnection): Promise<RedisCounters> {
  const text = String(await redis.call('INFO', 'stats', 'commandstats', 'cpu'));
  const calls = new Map<string, number>();
  let reads = 0;
  let cpuSeconds = 0;
  for (const line of text.split('\r\n')) {
    const command = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (command?.[1] && command[2]) calls.set(command[1], Number(command[2]));
    const read = /^total_reads_processed:(\d+)/.exec(line);
    if (read?.[1]) reads = Number(read[1]);
    // The server's own CPU (its main thread and the rest), user and system.
    const cpu = /^used_cpu_(?:sys|user):([\d.]+)/.exec(line);
    if (cpu?.[1]) cpuSeconds += Number(cpu[1]);
  }
  return { calls, reads, cpuSeconds };
}

export type RedisCost = {
  commands: number;
  scripts: number;
  roundTrips: number;
  /** CPU time the Redis server spent, in seconds. */
  cpuSeconds: number;
  /** Commands by name, most called first. */
  byCommand: Array<[string, number]>;
};

const scriptCommands = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * The difference between two readings, less the bench's own traffic: the INFO calls, and `polls`
 * polls (one read each, `commandsPerPoll` calls of `pollCommand`) made to see the scenario finish.
 */
export function redisCostBetween(
  before: RedisCounters,
  after: RedisCounters,
  own: { polls: number; pollCommand: string; commandsPerPoll: number },
): RedisCost {
  const byCommand: Array<[string, number]> = [];
  for (const [name, count] of after.calls) {
    if (name === 'info') continue;
    let delta = count - (before.calls.get(name) ?? 0);
    if (name === own.pollCommand) delta -= own.polls * own.commandsPerPoll;
    if (delta > 0) byCommand.push([name, delta]);
  }
  byCommand.sort((left, right) => right[1] - left[1]);
  const commands = byCommand.reduce((sum, [, count]) => sum + count, 0);
  const scripts = byCommand
    .filter(([name]) => scriptCommands.has(name))
    .reduce((sum, [, count]) => sum + count, 0);
  // The later INFO's own read is counted in `after`; the earlier one's is in both.
  return {
    commands,
    scripts,
    roundTrips: after.reads - before.reads - own.polls - 1,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    byCommand,
  };
}

/** The cost per unit of work (per step), with the top commands. */
export function formatRedisCost(cost: RedisCost, units: number, top = 6): string {
  const per = (value: number) => (value / units).toFixed(1);
  const commands = cost.byCommand
    .slice(0, top)
    .map(([name, count]) => `${name} ${per(count)}`)
    .join(', ');
  const cpuMicroseconds = ((cost.cpuSeconds * 1e6) / units).toFixed(0);
  return `${per(cost.commands)} commands (${per(cost.scripts)} scripts), ${per(cost.roundTrips)} round trips, ${cpuMicroseconds} µs Redis CPU; top: ${commands}`;
}
