import { loadAgents } from '@plainloop/agent';
import { type PlainloopConfig, secretsOf } from '@plainloop/config';
import { checkRedisReachable, describeRedisUrl } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { startWorker } from './start-worker.ts';

export type WorkerProcessOptions = { config: PlainloopConfig; redisUrl: string; agentsPath: string };

/**
 * `plainloop worker`: loads the agents, runs the worker until SIGTERM or SIGINT, then shuts down
 * gracefully (active runs checkpoint and go back to the queue) and exits 0.
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const logger = createLogger({
    service: 'worker',
    level: options.config.log.level,
    secrets: secretsOf(options.config, options.redisUrl),
  });
  await checkRedisReachable(options.redisUrl);
  const agents = await loadAgents(options.agentsPath);
  logger.info(
    { redis: describeRedisUrl(options.redisUrl), agentsPath: options.agentsPath },
    'starting worker',
  );
  const worker = await startWorker({ config: options.config, redisUrl: options.redisUrl, agents, logger });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received');
      worker.close().then(resolve, (error) => {
        logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
