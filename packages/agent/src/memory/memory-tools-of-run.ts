import type { RunState } from '@plainloop/contracts';
import { recallTool, rememberFactTool } from '@plainloop/memory';
import type { Tool } from '@plainloop/tools';
import type { BoundAgent } from '../bind-models.ts';
import type { RunEnvironment } from '../run-environment.ts';
import { recallScopeOf } from './recall-scope.ts';

/**
 * The agent as one run sees it: its own tools, plus the built-in memory tools that fit the run. A run
 * on a thread can `remember_fact` into that thread; an agent that recalls gets `recall` over its
 * namespace. The agent itself is shared by every run and is not changed.
 */
export function withMemoryTools(bound: BoundAgent, environment: RunEnvironment, state: RunState): BoundAgent {
  const extra: Tool[] = [];
  if (state.threadId !== undefined) {
    extra.push(
      rememberFactTool(
        environment.threads,
        { tenantId: state.tenantId, threadId: state.threadId },
        environment.now,
      ),
    );
  }
  const scope = recallScopeOf(bound, state);
  if (scope && environment.semantic) {
    extra.push(recallTool(environment.semantic, scope, bound.agent.memory.recall?.limit ?? 5));
  }
  if (extra.length === 0) return bound;
  const tools = new Map(bound.agent.tools);
  for (const tool of extra) tools.set(tool.name, tool);
  return { ...bound, agent: { ...bound.agent, tools } };
}
