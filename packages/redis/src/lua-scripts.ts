import { readFileSync } from 'node:fs';
import type { RedisConnection } from './create-redis-client.ts';

function script(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

/** The scripts with their key counts, defined on a client once (ioredis caches them with EVALSHA). */
const scripts = {
  plainloopOpenRun: { numberOfKeys: 5, lua: script('open-run') },
  // The number of keys is the call's first argument: one shard stream, or several on a single Redis.
  plainloopCommitRuns: { lua: script('commit-runs') },
  // The same script for one shard's writes: its one key, the shard's stream, comes first.
  plainloopCommitShard: { numberOfKeys: 1, lua: script('commit-runs') },
  plainloopMoveLegacyRun: { numberOfKeys: 16, lua: script('move-legacy-run') },
  plainloopBreakerAcquire: { numberOfKeys: 1, lua: script('breaker-acquire') },
  plainloopBreakerRecord: { numberOfKeys: 1, lua: script('breaker-record') },
  plainloopBreakerRelease: { numberOfKeys: 1, lua: script('breaker-release') },
  plainloopAdmissionCoolDown: { numberOfKeys: 1, lua: script('admission-cool-down') },
  plainloopSpendReserve: { numberOfKeys: 2, lua: script('spend-reserve') },
  plainloopSpendSettle: { numberOfKeys: 3, lua: script('spend-settle') },
  plainloopAdmissionReserve: { numberOfKeys: 4, lua: script('admission-reserve') },
  plainloopAdmissionSettle: { numberOfKeys: 2, lua: script('admission-settle') },
  plainloopMetricsApply: { numberOfKeys: 4, lua: script('metrics-apply') },
  plainloopLeaseHold: { numberOfKeys: 1, lua: script('lease-hold') },
  plainloopThreadAppend: { numberOfKeys: 5, lua: script('thread-append') },
  plainloopThreadSummarize: { numberOfKeys: 3, lua: script('thread-summarize') },
  plainloopThreadEnter: { numberOfKeys: 1, lua: script('thread-enter') },
} as const;

export type ScriptedRedis = RedisConnection & {
  plainloopOpenRun(
    stateKey: string,
    turnsKey: string,
    eventsKey: string,
    shardEventsKey: string,
    runIndexKey: string,
    ...argv: string[]
  ): Promise<[number, string[], string[]]>;
  /** The keys and the arguments in one array (the writes packed into the last). */
  plainloopCommitRuns(numberOfKeys: number, keysAndArguments: Array<string | Buffer>): Promise<number[]>;
  /** One shard's stream, then the arguments. */
  plainloopCommitShard(streamAndArguments: Array<string | Buffer>): Promise<number[]>;
  plainloopMoveLegacyRun(...keysAndArgv: string[]): Promise<number>;
  plainloopBreakerAcquire(
    breakerKey: string,
    cooldownMs: string,
    probeLeaseMs: string,
  ): Promise<[number, 'closed' | 'open' | 'half_open', number]>;
  plainloopBreakerRecord(
    breakerKey: string,
    outcome: 'success' | 'failure',
    threshold: string,
  ): Promise<['opened' | 'closed' | '', number]>;
  plainloopBreakerRelease(breakerKey: string): Promise<number>;
  plainloopAdmissionCoolDown(cooldownKey: string, milliseconds: string): Promise<number>;
  plainloopSpendReserve(
    totalsKey: string,
    reservationsKey: string,
    limit: string,
    reservationId: string,
    amount: string,
    leaseMs: string,
    keepSeconds: string,
  ): Promise<[number, number, number]>;
  plainloopSpendSettle(
    totalsKey: string,
    reservationsKey: string,
    ledgerKey: string,
    callId: string,
    reserved: string,
    cost: string,
    keepSeconds: string,
  ): Promise<number>;
  plainloopAdmissionReserve(
    requestsKey: string,
    tokensKey: string,
    tokenTotalKey: string,
    cooldownKey: string,
    requestsPerMinute: string,
    tokensPerMinute: string,
    reservationId: string,
    estimatedTokens: string,
  ): Promise<[number, number, number]>;
  plainloopAdmissionSettle(
    tokensKey: string,
    tokenTotalKey: string,
    reservationId: string,
    reservedTokens: string,
    usedTokens: string,
  ): Promise<number>;
  plainloopMetricsApply(
    streamKey: string,
    totalsKey: string,
    windowKey: string,
    tenantCostKey: string,
    group: string,
    ...argv: string[]
  ): Promise<number>;
  plainloopLeaseHold(leaseKey: string, holder: string, milliseconds: string): Promise<number>;
  plainloopThreadAppend(
    turnsKey: string,
    runsKey: string,
    memoryKey: string,
    factsKey: string,
    queueKey: string,
    runId: string,
    keepSeconds: string,
    ...turns: string[]
  ): Promise<number>;
  plainloopThreadSummarize(
    memoryKey: string,
    factsKey: string,
    turnsKey: string,
    through: string,
    summary: string,
    keepTurns: string,
    ...facts: string[]
  ): Promise<number>;
  plainloopThreadEnter(queueKey: string, runId: string, keepSeconds: string): Promise<string>;
};

export function withPlainloopScripts(redis: RedisConnection): ScriptedRedis {
  for (const [name, definition] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as ScriptedRedis;
}
