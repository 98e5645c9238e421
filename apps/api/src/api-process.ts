import { ConfigError, type PlainloopConfig, secretsOf } from '@plainloop/config';
import { connectRedis, describeRedisUrl } from '@plainloop/redis';
import { createLogger, waitForRedis } from '@plainloop/telemetry';
import { signingKeyOf } from '@plainloop/webhooks';
import { loadApiKeyring } from './auth/api-keyring.ts';
import { buildApi } from './build-api.ts';

export type ApiProcessOptions = { config: PlainloopConfig; redisUrl: string };

/** `plainloop api`: serves the producer API until SIGTERM or SIGINT, then closes and exits 0. */
export async function runApiProcess({ config, redisUrl }: ApiProcessOptions): Promise<void> {
  const logger = createLogger({
    service: 'api',
    level: config.log.level,
    secrets: secretsOf(config, redisUrl),
  });
  const keyring = await loadApiKeyring(config);
  if (keyring === undefined && !config.api.insecure) {
    throw new ConfigError(
      'no API keys: set PLAINLOOP_API_KEYS (tenant:key,...) or PLAINLOOP_API_KEYS_FILE, or start with --insecure for local use only',
    );
  }
  // The API signs nothing, but it takes runs with webhooks and hands out tenants' secrets derived from
  // this one: a malformed secret stops it here, as it stops the workers, not at the first request.
  if (config.webhooks.secret !== undefined) signingKeyOf(config.webhooks.secret);
  const stopping = new AbortController();
  const stopDuringStartUp = () => stopping.abort();
  process.once('SIGTERM', stopDuringStartUp);
  process.once('SIGINT', stopDuringStartUp);
  // Redis may come up after the API (an orchestrator starts them together): wait, do not exit.
  const reached = await waitForRedis(redisUrl, { logger, signal: stopping.signal });
  process.removeListener('SIGTERM', stopDuringStartUp);
  process.removeListener('SIGINT', stopDuringStartUp);
  if (!reached) {
    logger.info('stopped while waiting for Redis');
    return;
  }
  const redis = await connectRedis(redisUrl, 'producer', 'plainloop-api');
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  if (keyring === undefined)
    logger.warn(
      'started with --insecure: anyone who reaches this port acts for any tenant (X-Plainloop-Tenant)',
    );
  const authentication = keyring ? { keyring } : ({ insecure: true } as const);
  const app = await buildApi({ config, redis, logger, authentication });
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
