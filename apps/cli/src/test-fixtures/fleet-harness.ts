import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FleetProcess, startPlainloopProcess, stopProcesses } from '../demo/fleet-processes.ts';

export { waitFor } from '@plainloop/testing';

export function exitOf(
  process: FleetProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (process.child.exitCode !== null || process.child.signalCode !== null) {
    return Promise.resolve({ code: process.child.exitCode, signal: process.child.signalCode });
  }
  return new Promise((resolve) => process.child.once('exit', (code, signal) => resolve({ code, signal })));
}

export type Fleet = {
  /** Where worker logs and markers go; removed by `stop()`. */
  directory: string;
  workers: FleetProcess[];
  startWorker(name: string, environment?: Record<string, string>): FleetProcess;
  stop(): Promise<void>;
};

/**
 * Real `plainloop worker` processes for fleet tests, all on one Redis and key prefix, with settings
 * that let a dead worker's run be taken over within seconds.
 */
export async function startFleet(options: {
  redisUrl: string;
  prefix: string;
  agentsPath: string;
  environment?: Record<string, string>;
}): Promise<Fleet> {
  const directory = await mkdtemp(join(tmpdir(), 'plainloop-fleet-'));
  const workers: FleetProcess[] = [];
  return {
    directory,
    workers,
    startWorker(name, environment = {}) {
      const worker = startPlainloopProcess(
        name,
        ['worker', '--agents', options.agentsPath, '--concurrency', '3'],
        {
          PATH: process.env.PATH,
          REDIS_URL: options.redisUrl,
          PLAINLOOP_REDIS_PREFIX: options.prefix,
          PLAINLOOP_LOCK_DURATION_MS: '2000',
          PLAINLOOP_STALLED_INTERVAL_MS: '1000',
          PLAINLOOP_RETRY_BASE_DELAY_MS: '10',
          PLAINLOOP_RETRY_MAX_DELAY_MS: '50',
          // Several workers on one machine: each serves its health endpoints on a free port.
          PLAINLOOP_WORKER_HEALTH_PORT: '0',
          ...options.environment,
          ...environment,
        },
        directory,
      );
      workers.push(worker);
      return worker;
    },
    async stop() {
      await stopProcesses(workers.splice(0), 2_000);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
