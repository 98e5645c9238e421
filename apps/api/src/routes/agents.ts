import { AgentManifest } from '@plainloop/contracts';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentCatalog } from '../agent-catalog.ts';
import { problems } from '../problem.ts';

const Agents = z.object({ agents: z.array(AgentManifest.meta({ id: 'AgentManifest' })) });

/** The agents the fleet runs, as workers published them: input schema, tools, models, limits. */
export function registerAgentRoutes(app: FastifyInstance, agents: AgentCatalog) {
  const schema = {
    summary: 'The agents the workers run',
    description:
      'Each agent’s manifest as its workers published it: input JSON Schema, tools, model chains, limits.',
    tags: ['fleet'],
    response: { 200: Agents, ...problems() },
  };
  app.withTypeProvider<ZodTypeProvider>().get('/v1/agents', { schema }, async () => ({
    agents: await agents.list(),
  }));
}
