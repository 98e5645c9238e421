import { randomUUID } from 'node:crypto';
import {
  type Agent,
  abandonRun,
  type BoundAgent,
  bindModels,
  type CancelMessage,
  executeRun,
  manifestOf,
  requestWebhook,
  runEnvironmentFromConfig,
} from '@plainloop/agent';
import { ConfigError, type PlainloopConfig } from '@plainloop/config';
import {
  type EmbeddingModel,
  isTerminalStatus,
  modelRefOf,
  RunJobData,
  type RunState,
} from '@plainloop/contracts';
import {
  createModelCatalog,
  createPriceCatalog,
  loadPriceFile,
  type ModelCatalog,
  type PriceFile,
} from '@plainloop/llm';
import {
  closeRedisClient,
  createKeySchema,
  createRedisClient,
  createRunQueue,
  queueNames,
} from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { signingKeyOf, startWebhookWorker } from '@plainloop/webhooks';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Readiness } from './health-server.ts';

/** The calls a parked run waits on a person for. */
function awaitedCalls(state: RunState): string[] {
  return Object.entries(state.pending?.approvals ?? {})
    .filter(([, approval]) => approval.decision === 'pending')
    .map(([callId]) => callId);
}

export type StartWorkerOptions = {
  config: PlainloopConfig;
  redisUrl: string;
  agents: readonly Agent[];
  logger: Logger;
};

export type PrepareWorkerOptions = Omit<StartWorkerOptions, 'redisUrl'>;

export type RunningWorker = {
  /** Stops taking jobs, lets each active run reach its next checkpoint, gives it back, and disconnects. */
  close(): Promise<void>;
  /** Ready when Redis answers PING and the BullMQ workers run; not ready once closing has begun. */
  readiness(): Promise<Readiness>;
};

export type PreparedWorker = {
  /**
   * Connects to Redis, publishes the manifests and starts taking runs. Each step of it may wait on
   * Redis (a worker connection queues its commands while Redis is away or stalls writes): once `signal`
   * is aborted it stops waiting, drops the connections it opened, never starts taking runs, and rejects
   * with the signal's reason.
   */
  start(redisUrl: string, signal?: AbortSignal): Promise<RunningWorker>;
};

/**
 * Everything a worker checks before it needs Redis: the price file, the embedding model, each agent's
 * model chains, the webhook secret. A process calls it before it waits for Redis, so a configuration
 * mistake stops it at once with one line instead of after Redis comes up.
 */
export async function prepareWorker(options: PrepareWorkerOptions): Promise<PreparedWorker> {
  const { config, logger } = options;
  const prices = config.models.pricesFile ? await loadPriceFile(config.models.pricesFile) : undefined;
  const catalog = createModelCatalog(config.providers);
  // Semantic memory's embedding model is needed only by agents that recall; its absence stops those.
  const recalls = options.agents.filter((agent) => agent.memory.recall !== undefined);
  const embedding = recalls.length > 0 ? catalog.resolveEmbedding(config.memory.embeddingModel) : undefined;
  if (embedding && !embedding.ok) {
    throw new ConfigError(
      `agent ${recalls[0]?.name} recalls from semantic memory, but PLAINLOOP_EMBEDDING_MODEL cannot be used: ${embedding.reason}`,
    );
  }
  if (embedding?.ok && embedding.model.provider === 'scripted')
    logger.warn(
      'semantic memory uses the offline scripted embedding (word overlap, not meaning): set PLAINLOOP_EMBEDDING_MODEL',
    );
  // Deliveries are signed: a malformed secret is refused here, before the worker takes any run.
  if (config.webhooks.secret !== undefined) signingKeyOf(config.webhooks.secret);

  const agents = new Map<string, BoundAgent>();
  const priceCatalog = createPriceCatalog(prices);
  for (const agent of options.agents) {
    const { bound, notes } = bindModels(agent, catalog, priceCatalog);
    for (const reason of notes.skipped)
      logger.warn({ agent: agent.name }, `model left out of the chain: ${reason}`);
    for (const model of notes.unpriced)
      logger.warn(
        { agent: agent.name, model },
        'no price known for this model: its calls are flagged and count as $0 (add it with PLAINLOOP_PRICES_FILE)',
      );
    agents.set(agent.name, bound);
  }
  const chained = new Set(
    [...agents.values()].flatMap(({ models }) => [...models.plan, ...models.execute].map(modelRefOf)),
  );
  for (const model of Object.keys(config.models.limits)) {
    if (!chained.has(model))
      logger.warn({ model }, 'PLAINLOOP_MODEL_LIMITS names a model no agent of this worker uses');
  }
  return {
    start: (redisUrl, signal) =>
      startPreparedWorker({
        config,
        logger,
        redisUrl,
        signal,
        agents,
        catalog,
        prices,
        embeddingModel: embedding?.ok ? embedding.model : undefined,
      }),
  };
}

/**
 * The worker: a BullMQ Worker on `plainloop-runs` whose processor is the step machine. It publishes
 * the manifests of its agents at start-up, ends runs whose jobs BullMQ gives up on, and shuts down
 * gracefully: on `close()` every active run stops at its next checkpoint and goes back to the queue.
 * With a webhook secret it also delivers ended runs' webhooks from `plainloop-webhooks`, and closes that
 * worker with the run worker.
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  return (await prepareWorker(options)).start(options.redisUrl);
}

async function startPreparedWorker(options: {
  config: PlainloopConfig;
  logger: Logger;
  redisUrl: string;
  agents: Map<string, BoundAgent>;
  catalog: ModelCatalog;
  prices: PriceFile | undefined;
  embeddingModel: EmbeddingModel | undefined;
  signal: AbortSignal | undefined;
}): Promise<RunningWorker> {
  const { config, logger, agents, catalog } = options;
  const startUp = abortableBy(options.signal);
  const workerId = `worker-${process.pid}-${randomUUID().slice(0, 6)}`;
  const keys = createKeySchema(config.redis.prefix);
  const redis = createRedisClient(options.redisUrl, 'worker', workerId);
  // The step machine's own connection, auto-pipelined: the commands of many runs share socket writes.
  // BullMQ keeps the plain one, as it expects.
  const steps = createRedisClient(options.redisUrl, 'worker', `${workerId}-steps`, { autoPipelining: true });
  // A run that leaves its thread wakes the next one at once instead of letting it wait out its poll.
  const runQueue = createRunQueue(redis, keys);
  const environment = {
    ...runEnvironmentFromConfig(
      config,
      { redis: steps, queueRedis: redis, keys, logger },
      options.prices,
      options.embeddingModel,
    ),
    jobStateOf: (runId: string) => runQueue.getJobState(runId),
    wakeRun: async (runId: string) => {
      const job = await runQueue.getJob(runId);
      if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
    },
  };

  // Cancel requests from any process (API, CLI) reach the worker that holds the run through pub/sub;
  // the run's next checkpoint reports the request too, in case this message is lost.
  const control = createRedisClient(options.redisUrl, 'worker', `${workerId}-control`);

  let closing = false;
  /** Aborted when the shutdown timeout is reached: every run's calls in flight stop. */
  const forceStop = new AbortController();
  /** The runs this worker holds right now, each with the controller that cancels it. */
  const activeRuns = new Map<string, AbortController>();

  control.on('message', (_channel, payload) => {
    try {
      const message = JSON.parse(payload) as Partial<CancelMessage>;
      if (message.type === 'cancel' && message.runId)
        activeRuns.get(message.runId)?.abort(new Error('cancelled'));
    } catch {
      logger.warn({ payload }, 'ignored a control message that is not JSON');
    }
  });

  async function processRunJob(job: Job, token?: string, jobSignal?: AbortSignal) {
    const parsed = RunJobData.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`job ${job.id} does not carry a run: ${parsed.error.issues[0]?.message}`);
    const { runId } = parsed.data;
    // One controller per run, aborted by a cancel message, BullMQ's cancellation of the job or the
    // shutdown timeout. Not AbortSignal.any over them: every run would hang a weak reference on the
    // long-lived shutdown signal, which with thousands of runs in flight is paid at every GC.
    const cancel = new AbortController();
    activeRuns.set(runId, cancel);
    if (forceStop.signal.aborted) cancel.abort(forceStop.signal.reason);
    jobSignal?.addEventListener('abort', () => cancel.abort(jobSignal.reason), { once: true });
    let outcome: Awaited<ReturnType<typeof executeRun>>;
    try {
      outcome = await executeRun({
        environment,
        agents,
        catalog,
        job: parsed.data,
        signal: cancel.signal,
        shouldRelease: () => closing,
        lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      });
    } finally {
      // The same run taken again by this worker (after a stall) has its own entry: leave that one.
      if (activeRuns.get(runId) === cancel) activeRuns.delete(runId);
    }
    switch (outcome.kind) {
      case 'finished':
        return { status: outcome.state.status };
      case 'unknown_agent':
        // Another worker may have the agent (a rolling deploy, a mixed fleet): let BullMQ retry the job.
        throw new Error(`this worker has no agent named ${outcome.agent}`);
      case 'waiting': {
        // Checkpointed as waiting: back to the queue until it can go on, no slot held.
        await job.moveToDelayed(Math.max(outcome.resumeAt, Date.now()), token);
        // A decision that landed between the checkpoint and the move found the job still active and
        // could not bring it forward; bring it forward now.
        const awaited = awaitedCalls(outcome.state);
        if (awaited.length > 0) {
          const { tenantId, runId } = outcome.state;
          const decisions = await environment.store.loadDecisions(tenantId, runId);
          if (awaited.some((callId) => decisions[callId] !== undefined))
            await job.promote().catch(() => undefined);
        }
        throw new DelayedError();
      }
      case 'released':
        // Back to the queue at once, from the checkpoint just written; no worker slot is held meanwhile.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      case 'fenced':
        // Someone else wrote the run. If this worker still holds the job, it goes back to the queue and
        // is taken again from the latest checkpoint; if not, the move fails and the holder carries on.
        logger.warn({ runId: parsed.data.runId, reason: outcome.reason }, 'run moved on under this worker');
        await job.moveToDelayed(Date.now(), token).catch(() => undefined);
        throw new DelayedError();
    }
  }

  const endings = new Set<Promise<void>>();
  /** The BullMQ workers, from the moment each is created: a start-up given up closes them. */
  let webhookStarting: Promise<Worker> | undefined;
  let webhookWorker: Worker | undefined;
  let runWorker: Worker | undefined;
  try {
    const publishedAt = Date.now();
    if (agents.size > 0) {
      await startUp.race(
        redis.hset(
          keys.agents,
          Object.fromEntries(
            [...agents.values()].map((bound) => [
              bound.agent.name,
              JSON.stringify(manifestOf(bound, publishedAt)),
            ]),
          ),
        ),
      );
    }
    await startUp.race(control.subscribe(keys.control));

    // Deliveries are signed: a worker without the secret leaves them queued for one that has it. Started
    // before the run worker, so a bad secret stops the process before it takes any run.
    startUp.check();
    webhookStarting = config.webhooks.secret
      ? startWebhookWorker({
          redis,
          keys,
          logger,
          settings: {
            secret: config.webhooks.secret,
            allowPrivateTargets: config.webhooks.allowPrivateTargets,
            timeoutMs: config.webhooks.timeoutMs,
            retentionSeconds: config.runs.retentionSeconds,
          },
          concurrency: config.webhooks.concurrency,
          name: `${workerId}-webhooks`,
        })
      : undefined;
    if (webhookStarting) webhookWorker = await startUp.race(webhookStarting);
    else logger.info('webhook delivery is off in this worker: PLAINLOOP_WEBHOOK_SECRET is not set');

    // A stop that came during start-up must not find the worker taking runs.
    startUp.check();
    const created = new Worker(queueNames.runs, processRunJob, {
      connection: redis,
      prefix: keys.queuePrefix,
      name: workerId,
      concurrency: config.worker.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
    });
    runWorker = created;
    created.on('error', (error) => logger.error({ err: error }, 'worker error'));
    created.on('failed', (job, error) => {
      if (!job) return;
      const ending = endRunOfFailedJob(job, error)
        .catch((caught) =>
          logger.error({ err: caught, jobId: job.id }, 'could not end the run of a failed job'),
        )
        .finally(() => endings.delete(ending));
      endings.add(ending);
    });
    await startUp.race(created.waitUntilReady());
  } catch (error) {
    // No run was taken yet, so nothing is handed back: the workers are closed without waiting for jobs,
    // and the connections dropped rather than quit, for Redis may not answer at all.
    if (webhookStarting && !webhookWorker)
      webhookStarting.then((webhooks) => webhooks.close(true)).catch(() => undefined);
    await settledWithin(
      Promise.allSettled([runWorker?.close(true), webhookWorker?.close(true)]),
      closeWaitMs,
    );
    control.disconnect();
    steps.disconnect();
    redis.disconnect();
    throw error;
  } finally {
    startUp.dispose();
  }
  const worker = runWorker;

  /** Only a job BullMQ has given up on (no attempts left, or stalled too often) ends its run. */
  async function endRunOfFailedJob(job: Job, error: Error): Promise<void> {
    if ((await job.getState()) !== 'failed') return;
    const data = RunJobData.safeParse(job.data);
    if (!data.success) return;
    const { runId } = data.data;
    const { tenantId } = data.data.request;
    const lost = /stalled/i.test(error.message);
    const ended = await abandonRun(environment, tenantId, runId, {
      code: lost ? 'worker_lost' : 'internal_error',
      message: lost
        ? 'the workers running this run stopped responding too many times'
        : 'the run failed inside the worker; the logs have the details',
      retryable: false,
    });
    logger.error({ err: error, runId, ended }, 'run job failed for good');
    if (ended) return;
    // The run had ended before its job gave up: perhaps every attempt failed to queue its webhook. This
    // is the job's last word, so the webhook is queued here (a no-op when it already was).
    const state = await environment.store.load(tenantId, runId);
    if (state !== undefined && isTerminalStatus(state.status)) await requestWebhook(environment, state);
  }

  logger.info(
    { workerId, agents: [...agents.keys()], concurrency: config.worker.concurrency },
    'worker started',
  );

  let closed: Promise<void> | undefined;
  /** Within the health server's own limit, so a slow PING is reported as such. */
  const pingTimeoutMs = 1_000;
  async function shutDown(): Promise<void> {
    closing = true;
    logger.info({ workerId }, 'worker shutting down: active runs stop at their next checkpoint');
    const timeoutMs = config.worker.shutdownTimeoutMs;
    const abortTimer = setTimeout(() => {
      logger.warn({ workerId }, 'shutdown timeout reached: aborting in-flight calls');
      const reason = new Error('shutdown timeout');
      forceStop.abort(reason);
      for (const run of activeRuns.values()) run.abort(reason);
    }, timeoutMs);
    // Past a second grace period nothing is waited for: a call that ignores its signal, Redis gone.
    let forceTimer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      forceTimer = setTimeout(() => {
        logger.error({ workerId }, 'runs did not stop after the abort: closing without waiting');
        // Not awaited: without Redis even a forced close waits for a connection that may never come.
        Promise.all([worker.close(true), webhookWorker?.close(true)]).catch(() => undefined);
        resolve();
      }, timeoutMs + 10_000);
    });
    try {
      await Promise.race([Promise.all([worker.close(), webhookWorker?.close()]), forced]);
      await settledWithin(Promise.allSettled(endings), closeWaitMs);
    } finally {
      clearTimeout(abortTimer);
      clearTimeout(forceTimer);
      // Each close is bounded: a worker connection queues commands while Redis is away, so a QUIT (or a
      // queue's close) would wait for it for ever and the process would outlive its grace period.
      await settledWithin(runQueue.close(), closeWaitMs);
      await settledWithin(environment.close?.() ?? Promise.resolve(), closeWaitMs);
      await closeRedisClient(control, closeWaitMs);
      await closeRedisClient(steps, closeWaitMs);
      await closeRedisClient(redis, closeWaitMs);
    }
    logger.info({ workerId }, 'worker stopped');
  }

  return {
    close() {
      closed ??= shutDown();
      return closed;
    },
    async readiness() {
      if (closing) return { ready: false, reason: 'the worker is shutting down' };
      // A connection that is down is not asked: commands on a worker connection wait for Redis.
      for (const connection of [redis, steps])
        if (connection.status !== 'ready')
          return { ready: false, reason: `the connection to Redis is ${connection.status}` };
      // A PING sent as the connection drops waits for the reconnect: it is not waited for long.
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        redis.ping().then(
          () => undefined,
          (error: Error) => `Redis did not answer PING: ${error.message}`,
        ),
        new Promise<string>((resolve) => {
          timer = setTimeout(
            () => resolve(`Redis did not answer PING within ${pingTimeoutMs} ms`),
            pingTimeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (answer !== undefined) return { ready: false, reason: answer };
      if (!worker.isRunning()) return { ready: false, reason: 'the run worker is not running' };
      if (webhookWorker && !webhookWorker.isRunning())
        return { ready: false, reason: 'the webhook worker is not running' };
      return { ready: true };
    },
  };
}

/**
 * Ends the waits of start-up when `signal` is aborted: `race` rejects with the signal's reason, and
 * `check` throws it when the signal is aborted already.
 */
function abortableBy(signal: AbortSignal | undefined) {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  return {
    // The abort first: a signal aborted already wins over work that has settled too.
    race: <T>(work: Promise<T>): Promise<T> => Promise.race([aborted, work]),
    check: () => signal?.throwIfAborted(),
    dispose: () => {
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    },
  };
}

/** How long each step of closing may wait for Redis before the connection is dropped. */
const closeWaitMs = 2_000;

/** Waits for `work` (its outcome ignored) at most `ms`. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    deadline,
  ]);
  clearTimeout(timer);
}
