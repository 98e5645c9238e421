import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

function script(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
}

/** The scripts with their key counts, defined on a client once (ioredis caches them with EVALSHA). */
const scripts = {
  plainloopCreateRun: { numberOfKeys: 1, lua: script('create-run') },
  plainloopCheckpointRun: { numberOfKeys: 4, lua: script('checkpoint-run') },
} as const;

export type ScriptedRedis = Redis & {
  plainloopCreateRun(stateKey: string, stateJson: string): Promise<[number, string]>;
  plainloopCheckpointRun(
    stateKey: string,
    turnsKey: string,
    ledgerKey: string,
    eventsKey: string,
    ...argv: string[]
  ): Promise<[number, number?]>;
};

export function withPlainloopScripts(redis: Redis): ScriptedRedis {
  for (const [name, definition] of Object.entries(scripts)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
  return redis as ScriptedRedis;
}
