import type { AdmissionControl, CircuitBreaker } from '@plainloop/llm';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problems } from '../problem.ts';

const ModelsView = z.object({
  models: z.array(
    z.object({
      model: z.string(),
      breaker: z.object({
        state: z.enum(['closed', 'open', 'half_open']),
        consecutiveFailures: z.int(),
        openedAt: z.iso.datetime().optional(),
      }),
      cooldownMs: z.number().describe('How long the fleet holds off this model at a provider’s request'),
    }),
  ),
});

/**
 * The fleet's view of each model it has called: its circuit breaker (closed, open, half-open) and any
 * cooldown a provider asked for, so an outage or a rate limit is visible rather than a mystery.
 */
export function registerModelRoutes(
  app: FastifyInstance,
  breaker: CircuitBreaker,
  admission: AdmissionControl,
) {
  const schema = {
    summary: 'Models the fleet has called: breakers and cooldowns',
    tags: ['fleet'],
    response: { 200: ModelsView, ...problems() },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/models', { schema }, async () => {
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
