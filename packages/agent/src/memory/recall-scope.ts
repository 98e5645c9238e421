import type { RunState } from '@plainloop/contracts';
import type { MemoryScope } from '@plainloop/memory';
import type { BoundAgent } from '../bind-models.ts';

/**
 * Where a run's semantic memory lives: the agent's `recall.namespace` when set (shared by every run of
 * the agent in the tenant, a knowledge base), otherwise the run's own thread (one conversation's long
 * memory, which no other conversation of the tenant can recall). Undefined when the agent does not
 * recall, or recalls per thread and the run has none.
 */
export function recallScopeOf(bound: BoundAgent, state: RunState): MemoryScope | undefined {
  const { recall } = bound.agent.memory;
  if (recall === undefined) return undefined;
  if (recall.namespace !== undefined) return { tenantId: state.tenantId, namespace: recall.namespace };
  if (state.threadId === undefined) return undefined;
  return { tenantId: state.tenantId, namespace: `thread.${state.threadId}` };
}
