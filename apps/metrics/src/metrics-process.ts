import { type PlainloopConfig, secretsOf } from '@plainloop/config';
import { describeRedisUrl } from '@plainloop/redis';
import { createLogger, waitForRedis } from '@plainloop/telemetry';
import { startMetrics } from './start-metrics.ts';

export type MetricsProcessOptions = { config: PlainloopConfig; redisUrl: string };

/** `plainloop metrics`: serves `/metrics` and sends alerts until SIGTERM or SIGINT, then exits 0. */
export async function runMetricsProcess({ config, redisUrl }: MetricsProcessOptions): Promise<void> {
  const logger = createLogger({
    service: 'metrics',
    level: config.log.level,
    secrets: secretsOf(config, redisUrl),
  });
  const stopping = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received: closing');
      stopping.abort();
      resolve(signal);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info({ redis: describeRedisUrl(redisUrl) }, 'starting metrics');
  // Redis may come up after this process (an orchestrator starts them together): wait, do not exit.
  if (!(await waitForRedis(redisUrl, { logger, signal: stopping.signal }))) return;
  const metrics = await startMetrics({ config, redisUrl, logger });
  await stopped;
  await metrics.close().catch((error) => logger.error({ err: error }, 'shutdown failed'));
}
