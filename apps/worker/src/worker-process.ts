import { loadAgents } from '@plainloop/agent';
import { type PlainloopConfig, secretsOf } from '@plainloop/config';
import { describeRedisUrl } from '@plainloop/redis';
import { createLogger, waitForRedis } from '@plainloop/telemetry';
import { type Readiness, startHealthServer } from './health-server.ts';
import { prepareWorker, type RunningWorker } from './start-worker.ts';

export type WorkerProcessOptions = { config: PlainloopConfig; redisUrl: string; agentsPath: string };

/**
 * `plainloop worker`: checks its configuration (agents, models, secrets: a mistake stops it at once
 * with one line), serves its health endpoints, waits for Redis as long as it takes (not ready
 * meanwhile; credentials Redis refuses stop it with one line), then runs the worker until SIGTERM or
 * SIGINT, shuts down gracefully (not ready from the signal on; active runs checkpoint and go back to
 * the queue) and exits 0. A signal during start-up ends it at once too, without taking a run.
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const { config, redisUrl } = options;
  const logger = createLogger({
    service: 'worker',
    level: config.log.level,
    secrets: secretsOf(config, redisUrl),
  });
  // Listened for from the start: a signal during start-up or the wait for Redis still ends it with 0.
  const stop = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'signal received');
      stop.abort();
      resolve(signal);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  const agents = await loadAgents(options.agentsPath);
  const prepared = await prepareWorker({ config, agents, logger });

  let worker: RunningWorker | undefined;
  let notReady = 'the worker is starting';
  const readiness = async (): Promise<Readiness> => {
    if (stop.signal.aborted) return { ready: false, reason: 'the worker is shutting down' };
    return worker ? worker.readiness() : { ready: false, reason: notReady };
  };
  const health = await startHealthServer({ ...config.worker.health, readiness, logger });

  try {
    logger.info({ redis: describeRedisUrl(redisUrl), agentsPath: options.agentsPath }, 'starting worker');
    const reached = await waitForRedis(redisUrl, {
      logger,
      signal: stop.signal,
      onUnreachable: (reason) => {
        notReady = `Redis is unreachable (${reason}); waiting for it`;
      },
    });
    if (!reached) return;
    notReady = 'the worker is starting';
    // Start-up waits on Redis too (it may stall after answering PING): a signal ends that wait.
    worker = await prepared.start(redisUrl, stop.signal).catch((error: unknown) => {
      if (stop.signal.aborted) return undefined;
      throw error;
    });
    if (worker === undefined) {
      logger.info('stopped during start-up: no run was taken');
      return;
    }
    await stopped;
    await worker.close().catch((error) => logger.error({ err: error }, 'shutdown failed'));
  } finally {
    await health.close();
  }
}
