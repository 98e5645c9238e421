import type { PlainloopConfig } from '@plainloop/config';
import type { EmbeddingModel } from '@plainloop/contracts';
import {
  AdmissionControl,
  type BreakerSettings,
  CircuitBreaker,
  createPriceCatalog,
  type ModelLimits,
  type PriceCatalog,
  type PriceFile,
  type RetrySettings,
} from '@plainloop/llm';
import {
  RedisVectorStore,
  SemanticMemory,
  ThreadQueue,
  type ThreadSettings,
  ThreadStore,
} from '@plainloop/memory';
import {
  defaultRunStoreSettings,
  type KeySchema,
  type RedisConnection,
  RunStore,
  type WebhookJobData,
  type WebhookRetrySettings,
  webhookEnqueuer,
} from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { TenantBudget, type TenantBudgetLimits } from './budgets/tenant-budget.ts';

export type RunSettings = {
  /** Per-attempt time limit of a model call. */
  modelTimeoutMs: number;
  /** Tool outputs longer than this (as JSON) reach the model cut short. */
  maxToolOutputChars: number;
  /** How long a finished run stays readable in Redis. */
  retentionSeconds: number;
  /** Final answers that do not fit the output schema go back to the model at most this often per run. */
  maxOutputRepairs: number;
  /** A tool that fails this many times in a row is disabled for the rest of the run. */
  toolFailureLimit: number;
  /** A call that needs approval and gets no decision within this is refused (`approval_timeout`). */
  approvalTimeoutMs: number;
};

export type ModelSettings = {
  retry: RetrySettings;
  breaker: BreakerSettings;
  /** Requests and tokens per minute, by `provider:model`, shared by the fleet. */
  limits: Readonly<Record<string, ModelLimits>>;
  /** How long one step may wait in all (breakers, rate limits, cooldowns) before the run fails. */
  maxStepWaitMs: number;
};

/** What the step machine needs from the process that runs it. */
export type RunEnvironment = {
  store: RunStore;
  logger: Logger;
  now: () => number;
  settings: RunSettings;
  /** Tenants' daily budgets, shared by the fleet. */
  budgets: TenantBudget;
  /** Conversation threads: turns, rolling summary and facts. */
  threads: ThreadStore;
  /** The order of each thread's runs. */
  threadQueue: ThreadQueue;
  /** The state of a run's BullMQ job (`unknown` when there is none), to tell a run that can never be taken. */
  jobStateOf?: (runId: string) => Promise<string>;
  /** Semantic memory, for agents that recall; absent when no embedding model is configured. */
  semantic?: SemanticMemory;
  /**
   * Asks for a run parked behind another of its thread to be taken now (the worker promotes its
   * delayed job); without it, the run comes back at its next poll.
   */
  wakeRun?: (runId: string) => Promise<void>;
  /** Queues the delivery of an ended run's result to its webhook (once per run: the job id is the run id). */
  enqueueWebhook?: (run: WebhookJobData) => Promise<void>;
  /**
   * Releases what the environment made on first use (the webhook queue); the Redis connection stays
   * the caller's. Its owner calls it on shutdown, before closing the connection.
   */
  close?: () => Promise<void>;
  models: {
    breaker: CircuitBreaker;
    admission: AdmissionControl;
    retry: RetrySettings;
    prices: PriceCatalog;
    maxStepWaitMs: number;
  };
};

export type RunEnvironmentOptions = {
  redis: RedisConnection;
  /** The connection BullMQ queues use (the webhook queue), when `redis` is auto-pipelined; else `redis`. */
  queueRedis?: RedisConnection;
  keys: KeySchema;
  logger: Logger;
  settings: RunSettings;
  models: ModelSettings;
  tenantBudgets?: TenantBudgetLimits;
  threads?: ThreadSettings;
  /** The embedding model of semantic memory (the worker always has one: `PLAINLOOP_EMBEDDING_MODEL`); without it nothing is recalled. */
  embeddingModel?: EmbeddingModel;
  prices?: PriceFile;
  now?: () => number;
  /** Retries of webhook deliveries; without it, ended runs queue no webhook. */
  webhooks?: WebhookRetrySettings;
  /** On a cluster, how long a non-idempotent call's "started" mark waits for a replica (`PLAINLOOP_REPLICA_WAIT_MS`). */
  replicaWaitMs?: number;
};

const defaultThreadSettings: ThreadSettings = { retentionSeconds: 30 * 24 * 3600, keepTurns: 2_000 };

/** Wires the step machine's environment on one Redis connection. */
export function createRunEnvironment(options: RunEnvironmentOptions): RunEnvironment {
  const { redis, keys } = options;
  const webhooks = options.webhooks
    ? webhookEnqueuer(options.queueRedis ?? redis, keys, options.webhooks)
    : undefined;
  return {
    store: new RunStore(redis, keys, {
      ...defaultRunStoreSettings,
      replicaWaitMs: options.replicaWaitMs ?? defaultRunStoreSettings.replicaWaitMs,
    }),
    logger: options.logger,
    now: options.now ?? Date.now,
    settings: options.settings,
    budgets: new TenantBudget(
      redis,
      keys,
      options.tenantBudgets ?? { dailyUsd: {}, reservationLeaseMs: 10 * 60_000 },
    ),
    threads: new ThreadStore(redis, keys, options.threads ?? defaultThreadSettings),
    threadQueue: new ThreadQueue(redis, keys, (options.threads ?? defaultThreadSettings).retentionSeconds),
    ...(options.embeddingModel
      ? {
          semantic: new SemanticMemory({
            model: options.embeddingModel,
            store: new RedisVectorStore(redis, keys),
            timeoutMs: options.settings.modelTimeoutMs,
          }),
        }
      : {}),
    ...(webhooks ? { enqueueWebhook: (run: WebhookJobData) => webhooks.enqueue(run) } : {}),
    close: async () => {
      await webhooks?.close();
    },
    models: {
      breaker: new CircuitBreaker(redis, keys, options.models.breaker),
      admission: new AdmissionControl(redis, keys, options.models.limits),
      retry: options.models.retry,
      prices: createPriceCatalog(options.prices),
      maxStepWaitMs: options.models.maxStepWaitMs,
    },
  };
}

/** The environment every process of the fleet builds from the same config: worker, API, CLI. */
export function runEnvironmentFromConfig(
  config: PlainloopConfig,
  connection: { redis: RedisConnection; queueRedis?: RedisConnection; keys: KeySchema; logger: Logger },
  prices?: PriceFile,
  embeddingModel?: EmbeddingModel,
): RunEnvironment {
  return createRunEnvironment({
    ...connection,
    settings: {
      modelTimeoutMs: config.runs.modelTimeoutMs,
      maxToolOutputChars: config.runs.maxToolOutputChars,
      retentionSeconds: config.runs.retentionSeconds,
      maxOutputRepairs: config.runs.maxOutputRepairs,
      toolFailureLimit: config.runs.toolFailureLimit,
      approvalTimeoutMs: config.runs.approvalTimeoutMs,
    },
    models: {
      retry: config.models.retry,
      breaker: config.models.breaker,
      limits: config.models.limits,
      maxStepWaitMs: config.models.maxStepWaitMs,
    },
    tenantBudgets: config.budgets,
    threads: config.threads,
    webhooks: { attempts: config.webhooks.attempts, backoffMs: config.webhooks.backoffMs },
    replicaWaitMs: config.redis.replicaWaitMs,
    ...(prices ? { prices } : {}),
    ...(embeddingModel ? { embeddingModel } : {}),
  });
}
