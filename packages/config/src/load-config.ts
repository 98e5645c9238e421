import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { parseRedisAddress } from './redis-address.ts';

/** A JSON value in an environment variable, checked against `schema`. */
function json<Schema extends z.ZodType>(schema: Schema) {
  return optionalText
    .transform((text, context) => {
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());
}

const ModelLimits = z.record(
  z.string().regex(/^[a-z][a-z0-9-]*:\S+$/, 'keys are provider:model'),
  z.strictObject({
    requestsPerMinute: z.int().positive().optional(),
    tokensPerMinute: z.int().positive().optional(),
  }),
);

/** An empty value (`PORT=` in a compose file) means the default, not 0. */
const blankAsUnset = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
/** A whole number with a default. */
const integer = (fallback: number, minimum = 0) =>
  z.preprocess(blankAsUnset, z.coerce.number().int().min(minimum).default(fallback));
/** A number with a default, within `[minimum, maximum]`. */
const decimal = (fallback: number, minimum: number, maximum = Number.POSITIVE_INFINITY) =>
  z.preprocess(blankAsUnset, z.coerce.number().min(minimum).max(maximum).default(fallback));
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/**
 * Every environment variable plainloop reads, in one schema. Nothing else in the code base reads
 * `process.env`; processes call `loadConfig()` once and pass the frozen result down.
 */
const Environment = z.object({
  REDIS_URL: optionalText,
  PLAINLOOP_REDIS_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,32}$/, 'use 1-32 letters, digits, _ or -')
    .default('plainloop'),
  PLAINLOOP_REPLICA_WAIT_MS: integer(1_000, 0),
  PLAINLOOP_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PLAINLOOP_AGENTS: optionalText,
  PLAINLOOP_CONCURRENCY: integer(4, 1),
  PLAINLOOP_LOCK_DURATION_MS: integer(30_000, 1_000),
  PLAINLOOP_STALLED_INTERVAL_MS: integer(30_000, 500),
  PLAINLOOP_MAX_STALLED_COUNT: integer(2, 1),
  PLAINLOOP_SHUTDOWN_TIMEOUT_MS: integer(30_000, 0),
  // 0 picks a free port (tests, several workers on one machine); the probes of a deployment name 9465.
  PLAINLOOP_WORKER_HEALTH_PORT: z.preprocess(
    blankAsUnset,
    z.coerce.number().int().min(0).max(65_535).default(9465),
  ),
  PLAINLOOP_RUN_RETENTION_SECONDS: integer(7 * 24 * 3600, 60),
  PLAINLOOP_MODEL_TIMEOUT_MS: integer(60_000, 100),
  PLAINLOOP_MAX_TOOL_OUTPUT_CHARS: integer(16_000, 256),
  PLAINLOOP_MAX_OUTPUT_REPAIRS: integer(2, 0),
  PLAINLOOP_TOOL_FAILURE_LIMIT: integer(3, 1),
  PLAINLOOP_APPROVAL_TIMEOUT_MS: integer(24 * 3_600_000, 1_000),
  HOST: z.string().default('127.0.0.1'),
  PORT: integer(3000, 0),
  PLAINLOOP_API_BODY_LIMIT_BYTES: integer(1024 * 1024, 1024),
  PLAINLOOP_API_KEYS: optionalText,
  PLAINLOOP_API_KEYS_FILE: optionalText,
  PLAINLOOP_API_RATE_LIMIT: integer(600, 0),
  PLAINLOOP_API_RATE_WINDOW_MS: integer(60_000, 1_000),
  PLAINLOOP_API_INSECURE: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true'),
  PLAINLOOP_RETRY_ATTEMPTS: integer(3, 1),
  PLAINLOOP_RETRY_BASE_DELAY_MS: integer(500, 0),
  PLAINLOOP_RETRY_MAX_DELAY_MS: integer(8_000, 0),
  PLAINLOOP_MAX_INLINE_WAIT_MS: integer(2_000, 0),
  PLAINLOOP_MAX_COOLDOWN_MS: integer(10 * 60_000, 0),
  PLAINLOOP_MAX_STEP_WAIT_MS: integer(15 * 60_000, 0),
  PLAINLOOP_BREAKER_FAILURES: integer(3, 1),
  PLAINLOOP_BREAKER_COOLDOWN_MS: integer(30_000, 100),
  PLAINLOOP_BREAKER_PROBE_LEASE_MS: integer(90_000, 100),
  PLAINLOOP_MODEL_LIMITS: json(ModelLimits),
  PLAINLOOP_PRICES_FILE: optionalText,
  PLAINLOOP_TENANT_DAILY_BUDGETS: json(
    z.record(
      z.string().regex(/^(\*|[a-zA-Z0-9_.-]{1,64})$/, 'keys are tenant ids or *'),
      z.number().positive(),
    ),
  ),
  PLAINLOOP_SPEND_RESERVATION_LEASE_MS: integer(10 * 60_000, 1_000),
  PLAINLOOP_THREAD_RETENTION_SECONDS: integer(30 * 24 * 3600, 60),
  PLAINLOOP_EMBEDDING_MODEL: z
    .string()
    .regex(/^[a-z][a-z0-9-]*:\S+$/, 'an embedding model is named provider:model')
    .default('scripted:hashed'),
  PLAINLOOP_THREAD_KEEP_TURNS: integer(2_000, 0),
  PLAINLOOP_METRICS_PORT: integer(9464, 0),
  PLAINLOOP_METRICS_CONSUMER: optionalText,
  PLAINLOOP_METRICS_TENANT_LABEL: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true'),
  PLAINLOOP_METRICS_CLAIM_IDLE_MS: integer(60_000, 1_000),
  PLAINLOOP_ALERT_WINDOW_SECONDS: integer(600, 10),
  PLAINLOOP_ALERT_ERROR_RATE: decimal(0.05, 0.0001, 1),
  PLAINLOOP_ALERT_MIN_SAMPLES: integer(20, 1),
  PLAINLOOP_ALERT_COST_PER_HOUR_USD: decimal(10, 0),
  PLAINLOOP_ALERT_BUDGET_BURN_RATIO: decimal(0.8, 0.01, 1),
  PLAINLOOP_ALERT_EVALUATE_MS: integer(15_000, 100),
  TELEGRAM_BOT_TOKEN: optionalText,
  PLAINLOOP_WEBHOOK_SECRET: optionalText,
  PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((value) => value === 'true'),
  PLAINLOOP_WEBHOOK_ATTEMPTS: integer(8, 1),
  PLAINLOOP_WEBHOOK_TIMEOUT_MS: integer(10_000, 100),
  PLAINLOOP_WEBHOOK_BACKOFF_MS: integer(2_000, 10),
  PLAINLOOP_WEBHOOK_CONCURRENCY: integer(10, 1),
  TELEGRAM_CHAT_ID: optionalText.pipe(
    z
      .string()
      .regex(/^-?\d+$|^@\w+$/, 'a chat id or @channel')
      .optional(),
  ),
  TELEGRAM_API_URL: optionalText.pipe(z.url().optional()),
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: optionalText.pipe(z.url().optional()),
  ANTHROPIC_API_KEY: optionalText,
  ANTHROPIC_BASE_URL: optionalText.pipe(z.url().optional()),
  GEMINI_API_KEY: optionalText,
  GOOGLE_GEMINI_BASE_URL: optionalText.pipe(z.url().optional()),
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(environment: Record<string, string | undefined> = process.env) {
  const parsed = Environment.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const env = parsed.data;
  // A cluster address that does not parse fails here, in one line, not at the first connection.
  if (env.REDIS_URL !== undefined) parseRedisAddress(env.REDIS_URL);
  if (env.PLAINLOOP_SPEND_RESERVATION_LEASE_MS < env.PLAINLOOP_MODEL_TIMEOUT_MS) {
    throw new ConfigError(
      'invalid environment: PLAINLOOP_SPEND_RESERVATION_LEASE_MS must be at least PLAINLOOP_MODEL_TIMEOUT_MS, or a slow call would stop counting against its tenant while it still runs',
    );
  }
  if (env.PLAINLOOP_BREAKER_PROBE_LEASE_MS < env.PLAINLOOP_MODEL_TIMEOUT_MS) {
    throw new ConfigError(
      'invalid environment: PLAINLOOP_BREAKER_PROBE_LEASE_MS must be at least PLAINLOOP_MODEL_TIMEOUT_MS, or a slow probe would lose its lease while it still runs',
    );
  }
  return deepFreeze({
    redis: {
      url: env.REDIS_URL,
      prefix: env.PLAINLOOP_REDIS_PREFIX,
      /**
       * On Redis Cluster: how long a write that a failover must not undo (a non-idempotent call's
       * "started" mark, a submitted run) waits for a replica to have it; 0 does not wait.
       */
      replicaWaitMs: env.PLAINLOOP_REPLICA_WAIT_MS,
    },
    log: { level: env.PLAINLOOP_LOG_LEVEL },
    worker: {
      agentsPath: env.PLAINLOOP_AGENTS,
      concurrency: env.PLAINLOOP_CONCURRENCY,
      lockDurationMs: env.PLAINLOOP_LOCK_DURATION_MS,
      stalledIntervalMs: env.PLAINLOOP_STALLED_INTERVAL_MS,
      maxStalledCount: env.PLAINLOOP_MAX_STALLED_COUNT,
      shutdownTimeoutMs: env.PLAINLOOP_SHUTDOWN_TIMEOUT_MS,
      /** Where the worker serves `/healthz` (liveness) and `/readyz` (readiness). */
      health: { host: env.HOST, port: env.PLAINLOOP_WORKER_HEALTH_PORT },
    },
    runs: {
      retentionSeconds: env.PLAINLOOP_RUN_RETENTION_SECONDS,
      modelTimeoutMs: env.PLAINLOOP_MODEL_TIMEOUT_MS,
      maxToolOutputChars: env.PLAINLOOP_MAX_TOOL_OUTPUT_CHARS,
      maxOutputRepairs: env.PLAINLOOP_MAX_OUTPUT_REPAIRS,
      toolFailureLimit: env.PLAINLOOP_TOOL_FAILURE_LIMIT,
      approvalTimeoutMs: env.PLAINLOOP_APPROVAL_TIMEOUT_MS,
    },
    api: {
      host: env.HOST,
      port: env.PORT,
      bodyLimitBytes: env.PLAINLOOP_API_BODY_LIMIT_BYTES,
      keys: env.PLAINLOOP_API_KEYS,
      keysFile: env.PLAINLOOP_API_KEYS_FILE,
      insecure: env.PLAINLOOP_API_INSECURE,
      /** Requests per tenant per window, shared by every API replica through Redis; 0 turns it off. */
      rateLimit: { max: env.PLAINLOOP_API_RATE_LIMIT, windowMs: env.PLAINLOOP_API_RATE_WINDOW_MS },
    },
    models: {
      retry: {
        attemptsPerModel: env.PLAINLOOP_RETRY_ATTEMPTS,
        baseDelayMs: env.PLAINLOOP_RETRY_BASE_DELAY_MS,
        maxDelayMs: env.PLAINLOOP_RETRY_MAX_DELAY_MS,
        maxInlineWaitMs: env.PLAINLOOP_MAX_INLINE_WAIT_MS,
        maxCooldownMs: env.PLAINLOOP_MAX_COOLDOWN_MS,
      },
      maxStepWaitMs: env.PLAINLOOP_MAX_STEP_WAIT_MS,
      breaker: {
        failureThreshold: env.PLAINLOOP_BREAKER_FAILURES,
        cooldownMs: env.PLAINLOOP_BREAKER_COOLDOWN_MS,
        probeLeaseMs: env.PLAINLOOP_BREAKER_PROBE_LEASE_MS,
      },
      limits: env.PLAINLOOP_MODEL_LIMITS ?? {},
      pricesFile: env.PLAINLOOP_PRICES_FILE,
    },
    budgets: {
      dailyUsd: env.PLAINLOOP_TENANT_DAILY_BUDGETS ?? {},
      reservationLeaseMs: env.PLAINLOOP_SPEND_RESERVATION_LEASE_MS,
    },
    memory: { embeddingModel: env.PLAINLOOP_EMBEDDING_MODEL },
    threads: {
      retentionSeconds: env.PLAINLOOP_THREAD_RETENTION_SECONDS,
      keepTurns: env.PLAINLOOP_THREAD_KEEP_TURNS,
    },
    metrics: {
      host: env.HOST,
      port: env.PLAINLOOP_METRICS_PORT,
      consumer: env.PLAINLOOP_METRICS_CONSUMER,
      tenantLabel: env.PLAINLOOP_METRICS_TENANT_LABEL,
      claimIdleMs: env.PLAINLOOP_METRICS_CLAIM_IDLE_MS,
    },
    webhooks: {
      /**
       * The deployment's webhook secret (Standard Webhooks, `whsec_` + base64); each tenant's signing key
       * is derived from it. Runs with a webhook need it.
       */
      secret: env.PLAINLOOP_WEBHOOK_SECRET,
      /** Whether a webhook may target loopback, private, link-local or other internal addresses. */
      allowPrivateTargets: env.PLAINLOOP_WEBHOOK_ALLOW_PRIVATE,
      attempts: env.PLAINLOOP_WEBHOOK_ATTEMPTS,
      timeoutMs: env.PLAINLOOP_WEBHOOK_TIMEOUT_MS,
      /** The first retry's delay; each later one five times the last, up to 6 hours (±20%). */
      backoffMs: env.PLAINLOOP_WEBHOOK_BACKOFF_MS,
      concurrency: env.PLAINLOOP_WEBHOOK_CONCURRENCY,
    },
    alerts: {
      windowSeconds: env.PLAINLOOP_ALERT_WINDOW_SECONDS,
      errorRate: env.PLAINLOOP_ALERT_ERROR_RATE,
      minSamples: env.PLAINLOOP_ALERT_MIN_SAMPLES,
      costPerHourUsd: env.PLAINLOOP_ALERT_COST_PER_HOUR_USD,
      budgetBurnRatio: env.PLAINLOOP_ALERT_BUDGET_BURN_RATIO,
      evaluateMs: env.PLAINLOOP_ALERT_EVALUATE_MS,
      telegram: {
        botToken: env.TELEGRAM_BOT_TOKEN,
        chatId: env.TELEGRAM_CHAT_ID,
        apiUrl: env.TELEGRAM_API_URL ?? 'https://api.telegram.org',
      },
    },
    providers: {
      openai: { apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL },
      anthropic: { apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL },
      google: { apiKey: env.GEMINI_API_KEY, baseUrl: env.GOOGLE_GEMINI_BASE_URL },
    },
  });
}

export type PlainloopConfig = ReturnType<typeof loadConfig>;
