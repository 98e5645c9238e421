import { defineTool } from '@plainloop/agent';
import { z } from 'zod';
import { documents } from './knowledge-base.ts';

const words = (text: string) => text.toLowerCase().match(/[a-z0-9-]+/g) ?? [];

/** Finds documents by keyword overlap. One thing only: it does not summarise what it finds. */
export const search = defineTool({
  name: 'search',
  description: 'Search the knowledge base; returns the best-matching documents with their URLs.',
  input: z.object({
    query: z.string().min(2).describe('what to look for'),
    limit: z.int().min(1).max(5).default(3),
  }),
  output: z.array(z.object({ url: z.string(), title: z.string(), text: z.string() })),
  timeoutMs: 5_000,
  idempotent: true,
  run({ query, limit }) {
    const wanted = new Set(words(query).filter((word) => word.length > 2));
    return documents
      .map((document) => ({
        document,
        score: words(`${document.title} ${document.text}`).filter((word) => wanted.has(word)).length,
      }))
      .filter(({ score }) => score > 0)
      .sort((left, right) => right.score - left.score)
      .slice(0, limit)
      .map(({ document }) => document);
  },
});
