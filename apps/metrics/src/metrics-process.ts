import { type PlainloopConfig, secretsOf } from '@plainloop/config';
import { checkRedisReachable, describeRedisUrl } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { startMetrics } from './start-metrics.ts';

export type MetricsProcessOptions = { config: PlainloopConfig; redisUrl: string };

/** `plainloop metrics`: serves `/metrics` and sends alerts until SIGTERM or SIGINT, then exits 0. */
export async function runMetricsProcess({ config, redisUrl }: MetricsProcessOptions): Promise<void> {
  const logger = createLogger({
    service: 'metrics',
    level: config.log.level,
    secrets: secretsOf(config, redisUrl),
  });
  await checkRedisReachable(redisUrl);
  logger.info({ redis: describeRedisUrl(redisUrl) }, 'starting metrics');
  const metrics = await startMetrics({ config, redisUrl, logger });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received: closing');
      metrics.close().then(resolve, (error) => {
        logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
