import { runEnvironmentFromConfig } from '@plainloop/agent';
import type { PlainloopConfig } from '@plainloop/config';
import { AdmissionControl, CircuitBreaker } from '@plainloop/llm';
import { createKeySchema, createRunQueue, type Redis, RunStore } from '@plainloop/redis';
import { type Logger, RunEventStream } from '@plainloop/telemetry';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AgentCatalog } from './agent-catalog.ts';
import { type Authentication, registerAuthentication } from './auth/authenticate.ts';
import { registerProblemHandlers, sendProblem } from './problem.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import { registerCostRoutes } from './routes/cost.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerApprovalRoutes, registerRunControlRoutes } from './routes/run-control.ts';
import { registerRunEventRoutes } from './routes/run-events.ts';
import { registerRunListRoutes } from './routes/run-list.ts';
import { registerRunStepRoutes } from './routes/run-steps.ts';
import { registerRunRoutes } from './routes/runs.ts';

export type ApiOptions = {
  config: PlainloopConfig;
  /** Who may call: the keyring's key holders, or (local use only) anyone. */
  authentication: Authentication;
  /** A producer connection: fails fast so callers get a 503 instead of a hung request. */
  redis: Redis;
  logger: Logger;
};

/** The HTTP producer API. Closing it closes its queue; the Redis connection belongs to the caller. */
export async function buildApi({
  config,
  redis,
  logger,
  authentication,
}: ApiOptions): Promise<FastifyInstance> {
  const keys = createKeySchema(config.redis.prefix);
  const queue = createRunQueue(redis, keys);
  // pino's Logger and Fastify's logger type differ only in generics; it is the same pino instance.
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.api.bodyLimitBytes,
    // Errors Fastify raises before routing (a URL with broken percent-encoding) skip the error handler.
    frameworkErrors: (error, _request, reply) => sendProblem(reply, 400, 'bad_request', error.message),
  });
  registerProblemHandlers(app);
  registerAuthentication(app, authentication);
  const agents = new AgentCatalog(redis, keys);
  registerAgentRoutes(app, agents);
  registerModelRoutes(
    app,
    new CircuitBreaker(redis, keys, config.models.breaker),
    new AdmissionControl(redis, keys, config.models.limits),
  );
  const environment = runEnvironmentFromConfig(config, { redis, keys, logger });
  registerRunRoutes(app, {
    store: new RunStore(redis, keys),
    queue,
    events: new RunEventStream(redis, keys),
    agents,
    logger,
    threads: environment.threadQueue,
  });
  registerRunControlRoutes(app, { environment, queue, redis, keys });
  registerRunListRoutes(app, { store: new RunStore(redis, keys) });
  registerRunStepRoutes(app, { store: new RunStore(redis, keys), events: new RunEventStream(redis, keys) });
  registerRunEventRoutes(app, { store: new RunStore(redis, keys), events: new RunEventStream(redis, keys) });
  registerApprovalRoutes(app, { environment, queue });
  registerCostRoutes(app, { redis, keys, budgets: environment.budgets });
  // Liveness says the process serves; readiness that it can reach Redis (no traffic until it can).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await redis.ping();
      return { status: 'ready' };
    } catch {
      return sendProblem(reply, 503, 'unavailable', 'Redis is unreachable');
    }
  });
  app.addHook('onClose', async () => {
    await queue.close();
  });
  await app.ready();
  return app;
}
