import { type PlainloopConfig, secretsOf } from '@plainloop/config';
import { checkRedisReachable, connectRedis, describeRedisUrl } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { buildApi } from './build-api.ts';

export type ApiProcessOptions = { config: PlainloopConfig; redisUrl: string };

/** `plainloop api`: serves the producer API until SIGTERM or SIGINT, then closes and exits 0. */
export async function runApiProcess({ config, redisUrl }: ApiProcessOptions): Promise<void> {
  const logger = createLogger({
    service: 'api',
    level: config.log.level,
    secrets: secretsOf(config, redisUrl),
  });
  await checkRedisReachable(redisUrl);
  const redis = await connectRedis(redisUrl, 'producer', 'plainloop-api');
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const app = await buildApi({ config, redis, logger });
  const address = await app.listen({ host: config.api.host, port: config.api.port });
  logger.info({ address, redis: describeRedisUrl(redisUrl) }, 'api listening');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'signal received: closing');
      app
        .close()
        .then(() => redis.quit())
        .then(
          () => resolve(),
          () => resolve(),
        );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
