/**
 * One worker in its own process, for the bench:
 * `worker-child.ts <kind> <redisUrl> <prefix> <concurrency> [modelLatencyMs] [runs]` (the latency
 * applies to the plainloop worker's model; `runs` to the in-memory `openai-agents` kind, which has no
 * queue to take runs from and tells its parent when it did them all). Tells its parent (IPC) when its
 * code is loaded and when its worker takes jobs; on the parent's `close`, closes the worker, reports its
 * CPU time, peak RSS, event-loop delay and the commands it sent to Redis, and exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import { startWorker } from '../src/start-worker.ts';
import { startHandRolledWorker } from './baselines/hand-rolled-loop.ts';
import { startMinimalLoopWorker } from './baselines/minimal-loop.ts';
import { startRawBullmqWorker } from './baselines/raw-bullmq.ts';
import { createBenchAgent } from './bench-agent.ts';
import { countClientCommands } from './client-command-counter.ts';
import type { WorkerChildMessage, WorkerKind } from './harness.ts';

const [kind, url = '', prefix = 'bench', concurrencyText = '1', modelLatencyText = '0', runsText = '0'] =
  process.argv.slice(2) as [WorkerKind, ...string[]];
const concurrency = Number(concurrencyText);
const modelLatencyMs = Number(modelLatencyText);
const runs = Number(runsText);
// Before any connection exists, so every command of every connection is counted.
const clientCommands = countClientCommands();

function tell(message: WorkerChildMessage, then: () => void = () => undefined): void {
  process.send?.(message, then);
}

type Started = { close(): Promise<void> };

/**
 * What starts this process's worker. The SDK baseline's module is loaded here, before the load-time
 * CPU is read, and only in its own process: the others do not load the SDK (nor its tracing exporter).
 */
async function starterOf(kind: WorkerKind): Promise<() => Promise<Started>> {
  switch (kind) {
    case 'plainloop':
      return async () => {
        const config = loadConfig({
          PLAINLOOP_REDIS_PREFIX: prefix,
          PLAINLOOP_CONCURRENCY: String(concurrency),
          PLAINLOOP_LOG_LEVEL: 'error',
        });
        const logger = createLogger({ service: 'bench', level: 'error' });
        const agent = createBenchAgent({ modelLatencyMs });
        return startWorker({ config, redisUrl: url, agents: [agent], logger });
      };
    case 'raw-bullmq':
      return () => startRawBullmqWorker(url, prefix, concurrency);
    case 'hand-rolled':
      return () => startHandRolledWorker(url, prefix, concurrency);
    case 'minimal-loop':
      return () => startMinimalLoopWorker(url, prefix, concurrency);
    case 'openai-agents': {
      const { startOpenAiAgentsRuns } = await import('./baselines/openai-agents-loop.ts');
      return async () =>
        startOpenAiAgentsRuns(runs, concurrency, (report) => tell({ type: 'finished', ...report }));
    }
  }
}
const start = await starterOf(kind);

// The peak is sampled rather than read at the end: memory held by thousands of runs in flight is
// released (and RSS may shrink) once they finish.
let peakRssBytes = process.memoryUsage.rss();
const rssSampler = setInterval(() => {
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
}, 250);
// How late timers and I/O callbacks ran: thousands of runs on one event loop show up here first.
const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
eventLoopDelay.enable();

// The CPU time spent loading the code, so the parent counts only what the worker itself used.
const loaded = process.cpuUsage();
tell({ type: 'loaded', cpuSeconds: (loaded.user + loaded.system) / 1e6 });
const worker = await start();
tell({ type: 'ready' });
process.once('message', () => {
  void worker.close().then(
    () => {
      clearInterval(rssSampler);
      eventLoopDelay.disable();
      // Its own CPU time, user and system, for the parent's figures; then exit once it is sent.
      const { user, system } = process.cpuUsage();
      tell(
        {
          type: 'closed',
          cpuSeconds: (user + system) / 1e6,
          peakRssBytes: Math.max(peakRssBytes, process.memoryUsage.rss()),
          eventLoopDelayMs: {
            p99: eventLoopDelay.percentile(99) / 1e6,
            max: eventLoopDelay.max / 1e6,
          },
          clientCommands: clientCommands(),
        },
        () => process.exit(0),
      );
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
