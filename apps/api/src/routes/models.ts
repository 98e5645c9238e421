import type { CircuitBreaker } from '@plainloop/llm';
import type { FastifyInstance } from 'fastify';

/**
 * The fleet's view of each model it has called: its circuit breaker (closed, open, half-open), so a
 * cooldown or an outage is visible rather than a mystery.
 */
export function registerModelRoutes(app: FastifyInstance, breaker: CircuitBreaker) {
  app.get('/v1/models', async () => ({
    models: (await breaker.read()).map(({ model, state, failures, openedAt }) => ({
      model,
      breaker: {
        state,
        consecutiveFailures: failures,
        openedAt: openedAt === undefined ? undefined : new Date(openedAt).toISOString(),
      },
    })),
  }));
}
