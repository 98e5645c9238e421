import { runEnvironmentFromConfig } from '@plainloop/agent';
import type { PlainloopConfig } from '@plainloop/config';
import { AdmissionControl, CircuitBreaker } from '@plainloop/llm';
import { createKeySchema, createRunQueue, type RedisConnection } from '@plainloop/redis';
import { type Logger, RunEventStream } from '@plainloop/telemetry';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AgentCatalog } from './agent-catalog.ts';
import { type Authentication, registerAuthentication } from './auth/authenticate.ts';
import { registerOpenApi, registerOpenApiRoute } from './openapi.ts';
import { problems, registerProblemHandlers, sendProblem } from './problem.ts';
import { registerRateLimit } from './rate-limit.ts';
import { registerAgentRoutes } from './routes/agents.ts';
import { registerCostRoutes } from './routes/cost.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerApprovalRoutes, registerRunControlRoutes } from './routes/run-control.ts';
import { registerRunEventRoutes } from './routes/run-events.ts';
import { registerRunForkRoutes } from './routes/run-fork.ts';
import { registerRunListRoutes } from './routes/run-list.ts';
import { registerRunStepRoutes } from './routes/run-steps.ts';
import { registerRunRoutes } from './routes/runs.ts';
import { registerWebhookSecretRoutes } from './routes/webhook-secret.ts';

export type ApiOptions = {
  config: PlainloopConfig;
  /** Who may call: the keyring's key holders, or (local use only) anyone. */
  authentication: Authentication;
  /** A producer connection: fails fast so callers get a 503 instead of a hung request. */
  redis: RedisConnection;
  logger: Logger;
};

const Health = z.object({ status: z.string() });

/**
 * The HTTP producer API. Every body, query, path and reply is a zod schema: requests are validated by
 * them, replies checked against them, and the OpenAPI document generated from them. Closing the API
 * closes its queues; the Redis connection belongs to the caller.
 */
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
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandlers(app);
  await registerOpenApi(app);
  registerAuthentication(app, authentication);
  await registerRateLimit(app, config.api.rateLimit, redis, keys);

  const environment = runEnvironmentFromConfig(config, { redis, keys, logger });
  // The environment's store: it has the configured replica wait a submission waits out on a cluster.
  const { store } = environment;
  const events = new RunEventStream(redis, keys);
  const agents = new AgentCatalog(redis, keys);
  const submit = {
    store,
    queue,
    events,
    logger,
    threads: environment.threadQueue,
    webhooks: config.webhooks,
  };
  registerRunRoutes(app, { ...submit, agents, redis, keys });
  registerRunListRoutes(app, { store });
  registerRunStepRoutes(app, { store, events });
  registerRunEventRoutes(app, { store, events });
  registerRunControlRoutes(app, { environment, queue, redis, keys });
  registerApprovalRoutes(app, { environment, queue });
  registerRunForkRoutes(app, submit);
  registerWebhookSecretRoutes(app, config.webhooks);
  registerAgentRoutes(app, agents);
  registerModelRoutes(
    app,
    new CircuitBreaker(redis, keys, config.models.breaker),
    new AdmissionControl(redis, keys, config.models.limits),
  );
  registerCostRoutes(app, { redis, keys, budgets: environment.budgets });
  // Liveness says the process serves; readiness that it can reach Redis (no traffic until it can).
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['health'], security: [], response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  );
  routes.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: Redis is reachable',
        tags: ['health'],
        security: [],
        response: { 200: Health, 503: problems()[503] },
      },
    },
    async (_request, reply) => {
      try {
        await redis.ping();
        return { status: 'ready' };
      } catch {
        return sendProblem(reply, 503, 'unavailable', 'Redis is unreachable');
      }
    },
  );
  registerOpenApiRoute(app);
  app.addHook('onClose', async () => {
    await queue.close();
    // The webhook queue a cancel made, if one did.
    await environment.close?.();
  });
  await app.ready();
  return app;
}
