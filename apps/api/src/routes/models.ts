import type { AdmissionControl, CircuitBreaker } from '@plainloop/llm';
import type { FastifyInstance } from 'fastify';

/**
 * The fleet's view of each model it has called: its circuit breaker (closed, open, half-open) and any
 * cooldown a provider asked for, so an outage or a rate limit is visible rather than a mystery.
 */
export function registerModelRoutes(
  app: FastifyInstance,
  breaker: CircuitBreaker,
  admission: AdmissionControl,
) {
  app.get('/v1/models', async () => {
    const breakers = await breaker.read();
    const cooldowns = await admission.cooldowns(breakers.map(({ model }) => model));
    return {
      models: breakers.map(({ model, state, failures, openedAt }) => ({
        model,
        breaker: {
          state,
          consecutiveFailures: failures,
          openedAt: openedAt === undefined ? undefined : new Date(openedAt).toISOString(),
        },
        cooldownMs: cooldowns.get(model) ?? 0,
      })),
    };
  });
}
