import { type AgentManifest, modelRefOf } from '@plainloop/contracts';
import type { BoundAgent } from './bind-models.ts';

/** What a worker publishes about an agent it runs (see `AgentManifest` in contracts). */
export function manifestOf({ agent, models }: BoundAgent, publishedAt: number): AgentManifest {
  return {
    name: agent.name,
    ...(agent.description ? { description: agent.description } : {}),
    inputSchema: agent.inputSchema,
    ...(agent.outputSchema ? { outputSchema: agent.outputSchema } : {}),
    tools: [...agent.tools.values()].map((tool) => tool.description),
    models: { plan: models.plan.map(modelRefOf), execute: models.execute.map(modelRefOf) },
    limits: agent.limits,
    publishedAt,
  };
}
