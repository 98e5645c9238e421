import { defineTool, ToolError } from '@plainloop/agent';
import { z } from 'zod';

/**
 * Condenses texts to their first sentences, within a character budget. Deterministic and offline; a
 * production agent might call a cheap model here. It does not search: compose it with `search`.
 */
export const summarize = defineTool({
  name: 'summarize',
  description: 'Summarise a list of texts into a short paragraph.',
  input: z.object({
    texts: z.array(z.string()).max(20),
    maxCharacters: z.int().min(40).max(2_000).default(400),
  }),
  timeoutMs: 5_000,
  idempotent: true,
  run({ texts, maxCharacters }) {
    if (texts.length === 0) {
      throw new ToolError({ code: 'nothing_to_summarize', message: 'give at least one text' });
    }
    const firstSentences = texts.map((text) => (text.match(/^[^.!?]*[.!?]/)?.[0] ?? text).trim());
    const summary = firstSentences.join(' ');
    return summary.length <= maxCharacters ? summary : `${summary.slice(0, maxCharacters - 1)}…`;
  },
});
