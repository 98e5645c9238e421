/**
 * One worker in its own process, for the bench: `worker-child.ts <kind> <redisUrl> <prefix> <concurrency>`.
 * Tells its parent (IPC) when it starts its worker, and closes it and exits on the parent's `close`.
 */
import { loadConfig } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import { startWorker } from '../src/start-worker.ts';
import { startHandRolledWorker } from './baselines/hand-rolled-loop.ts';
import { startRawBullmqWorker } from './baselines/raw-bullmq.ts';
import { createBenchAgent } from './bench-agent.ts';
import type { WorkerKind } from './harness.ts';

const [kind, url = '', prefix = 'bench', concurrencyText = '1'] = process.argv.slice(2) as [
  WorkerKind,
  ...string[],
];
const concurrency = Number(concurrencyText);

async function start(): Promise<{ close(): Promise<void> }> {
  switch (kind) {
    case 'plainloop': {
      const config = loadConfig({
        PLAINLOOP_REDIS_PREFIX: prefix,
        PLAINLOOP_CONCURRENCY: String(concurrency),
        PLAINLOOP_LOG_LEVEL: 'error',
      });
      const logger = createLogger({ service: 'bench', level: 'error' });
      return startWorker({ config, redisUrl: url, agents: [createBenchAgent()], logger });
    }
    case 'raw-bullmq':
      return startRawBullmqWorker(url, prefix, concurrency);
    case 'hand-rolled':
      return startHandRolledWorker(url, prefix, concurrency);
  }
}

// The CPU time spent loading the code, so the parent counts only what the worker itself used.
const loaded = process.cpuUsage();
process.send?.({ cpuSeconds: (loaded.user + loaded.system) / 1e6 });
const worker = await start();
process.once('message', () => {
  void worker.close().then(
    () => {
      // Its own CPU time, user and system, for the parent's figures; then exit once it is sent.
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuSeconds: (user + system) / 1e6 }, () => process.exit(0));
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
