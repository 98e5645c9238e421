import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchRedisServer } from '@plainloop/redis';

export type RestartableRedis = {
  url: string;
  /** Kills the server as a crash would (SIGKILL): no shutdown, no final save. */
  crash(): Promise<void>;
  /** Starts it again on the same port from the same files (the append-only file). */
  start(): Promise<void>;
  stop(): Promise<void>;
};

/** Persistence as a production Redis behind a fleet should have it: every write in the AOF before the reply. */
const durable = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];

/** A private redis-server with AOF on, that a chaos test can crash and restart mid-load. */
export async function startRestartableRedis(binary = 'redis-server'): Promise<RestartableRedis> {
  const directory = await mkdtemp(join(tmpdir(), 'plainloop-aof-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const launched = await launchRedisServer(binary, directory, port, durable);
    if (launched === 'port-taken') throw new Error(`port ${port} was taken while Redis was down`);
    child = launched;
  };
  const crash = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    crash,
    start,
    async stop() {
      await crash();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
