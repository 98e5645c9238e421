import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { TenantBudget } from '@plainloop/agent';
import type { PlainloopConfig } from '@plainloop/config';
import { CircuitBreaker } from '@plainloop/llm';
import { connectRedis, createKeySchema, createRedisClient, createRunQueue } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Alerter } from './alerter.ts';
import { DurableMetrics } from './durable-metrics.ts';
import { EventConsumer } from './event-consumer.ts';
import { registerLiveGauges } from './live-gauges.ts';
import { createCatalog } from './metric-catalog.ts';

export type StartMetricsOptions = { config: PlainloopConfig; redisUrl: string; logger: Logger };

export type RunningMetrics = {
  /** Where `/metrics` is served, e.g. `http://127.0.0.1:9464`. */
  url: string;
  consumer: EventConsumer;
  alerter: Alerter;
  close(): Promise<void>;
};

/** Buckets of the alert window: 60 per window, at least a second wide (10 s for the default 10 min). */
export function windowBucketSeconds(windowSeconds: number): number {
  return Math.max(1, Math.floor(windowSeconds / 60));
}

/**
 * The metrics process: applies the run event stream to durable metrics in Redis, evaluates the alert
 * rules on a timer, and serves `/metrics` (Prometheus text), `/healthz` and `/readyz`.
 */
export async function startMetrics(options: StartMetricsOptions): Promise<RunningMetrics> {
  const { config, redisUrl, logger } = options;
  const keys = createKeySchema(config.redis.prefix);
  const consumerName = config.metrics.consumer ?? hostname();
  // The consumer's reads block on a connection of their own that waits out a Redis outage; scrapes and
  // alert evaluations fail fast on theirs, so during an outage a scrape is a 503, not a hang.
  const streamRedis = createRedisClient(redisUrl, 'worker', `plainloop-metrics-stream-${consumerName}`);
  const redis = await connectRedis(redisUrl, 'producer', `plainloop-metrics-${consumerName}`);
  for (const client of [streamRedis, redis])
    client.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));

  const catalog = createCatalog({ tenantLabel: config.metrics.tenantLabel });
  const bucketSeconds = windowBucketSeconds(config.alerts.windowSeconds);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'plainloop_metrics_process_' });
  const durable = new DurableMetrics(redis, keys, catalog, registry);
  const queue = createRunQueue(redis, keys);
  const budgets = new TenantBudget(redis, keys, config.budgets);
  const budgetedTenants = Object.keys(config.budgets.dailyUsd).filter((tenantId) => tenantId !== '*');
  registerLiveGauges(registry, {
    redis,
    keys,
    queues: [queue],
    breaker: new CircuitBreaker(redis, keys, config.models.breaker),
    budgets,
    budgetedTenants,
    tenantLabel: config.metrics.tenantLabel,
  });

  const consumer = new EventConsumer({
    redis: streamRedis,
    keys,
    consumer: consumerName,
    increments: { catalog, windowBucketSeconds: bucketSeconds },
    claimIdleMs: config.metrics.claimIdleMs,
    logger,
  });
  const { telegram } = config.alerts;
  const alerter = new Alerter({
    redis,
    keys,
    settings: config.alerts,
    budgets,
    budgetedTenants,
    bucketSeconds,
    holder: `${consumerName}-${process.pid}-${randomUUID().slice(0, 8)}`,
    telegram:
      telegram.botToken && telegram.chatId
        ? { apiUrl: telegram.apiUrl, botToken: telegram.botToken, chatId: telegram.chatId }
        : undefined,
    logger,
  });
  if (!(telegram.botToken && telegram.chatId))
    logger.info('TELEGRAM_BOT_TOKEN or TELEGRAM_CHAT_ID unset: alerts are evaluated and exported, not sent');

  // A tick that finds the last evaluation still running (Telegram slow to answer) is skipped, not queued.
  let evaluating: Promise<void> | undefined;
  const timer = setInterval(() => {
    evaluating ??= alerter
      .evaluate()
      .catch((error) => logger.warn({ err: error }, 'could not evaluate the alerts'))
      .finally(() => {
        evaluating = undefined;
      });
  }, config.alerts.evaluateMs);

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    if (path === '/healthz') return reply(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      redis
        .ping()
        .then(() => reply(200, 'application/json', '{"status":"ready"}'))
        .catch(() => reply(503, 'application/json', '{"status":"redis unreachable"}'));
      return;
    }
    if (path !== '/metrics') return reply(404, 'application/json', '{"error":"not found"}');
    durable
      .refresh()
      .then(() => registry.metrics())
      .then((text) => reply(200, registry.contentType, text))
      .catch((error) => {
        logger.warn({ err: error }, 'scrape failed');
        reply(503, 'application/json', '{"error":"metrics unavailable: Redis unreachable"}');
      });
  });
  await new Promise<void>((resolve) => server.listen(config.metrics.port, config.metrics.host, resolve));
  await consumer.start();
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.metrics.host}:${port}`;
  logger.info({ url, consumer: consumerName }, 'metrics listening');

  return {
    url,
    consumer,
    alerter,
    async close() {
      clearInterval(timer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Disconnecting ends a blocked read at once, even while Redis is unreachable.
      const stopped = consumer.stop();
      streamRedis.disconnect();
      await stopped;
      await evaluating;
      await queue.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
