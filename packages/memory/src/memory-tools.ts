import { defineTool, type Tool } from '@plainloop/tools';
import { z } from 'zod';
import type { ThreadRef, ThreadStore } from './episodic/thread-store.ts';
import type { SemanticMemory } from './semantic/semantic-memory.ts';
import type { MemoryScope } from './semantic/vector-store.ts';

/** The names of the built-in memory tools; an agent's own tool may not take them. */
export const memoryToolNames = ['remember_fact', 'recall'] as const;

/**
 * `remember_fact`: the model writes a fact into its thread. Facts are always in context, in every
 * later run of the thread, whatever the summary drops. Writing the same key again replaces the value,
 * so a replayed call changes nothing.
 */
export function rememberFactTool(threads: ThreadStore, thread: ThreadRef, now: () => number): Tool {
  return defineTool({
    name: 'remember_fact',
    description:
      'Remember a durable fact about this conversation (a name, a preference, an id, a decision) so it stays known in every later turn. Use a short key; a new value for a key replaces the old one.',
    input: z.object({
      key: z.string().min(1).max(100).describe('short name of the fact, e.g. "customer_name"'),
      value: z.string().min(1).max(1_000),
    }),
    idempotent: true,
    timeoutMs: 5_000,
    async run({ key, value }) {
      await threads.remember(thread, { key, value }, now());
      return { remembered: key };
    },
  });
}

/** `recall`: the model searches semantic memory by meaning, for things said or learned long ago. */
export function recallTool(memory: SemanticMemory, scope: MemoryScope, limit: number): Tool {
  return defineTool({
    name: 'recall',
    description:
      'Search long-term memory by meaning for things from earlier conversations that are no longer in context. Returns the closest items, best first.',
    input: z.object({ query: z.string().min(1).max(2_000) }),
    idempotent: true,
    timeoutMs: 15_000,
    async run({ query }, context) {
      const items = await memory.recall(scope, query, limit, context.signal);
      return { items: items.map((item) => ({ text: item.text, score: Number(item.score.toFixed(3)) })) };
    },
  });
}
