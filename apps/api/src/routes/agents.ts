import type { FastifyInstance } from 'fastify';
import type { AgentCatalog } from '../agent-catalog.ts';

/** The agents the fleet runs, as workers published them: input schema, tools, models, limits. */
export function registerAgentRoutes(app: FastifyInstance, agents: AgentCatalog) {
  app.get('/v1/agents', async () => ({ agents: await agents.list() }));
}
