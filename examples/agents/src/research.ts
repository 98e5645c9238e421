import { defineAgent } from '@plainloop/agent';
import type { ScriptContext, ScriptedReply } from '@plainloop/llm';
import { z } from 'zod';
import { offlineTiers } from './offline-models.ts';
import { search } from './tools/search.ts';
import { summarize } from './tools/summarize.ts';

type Found = Array<{ url: string; text: string }>;

/** What a good model would do here, written down: search, summarise what was found, answer with sources. */
function researchScript({ turn, input, toolResults }: ScriptContext): ScriptedReply {
  const { topic } = input as { topic: string };
  const found = toolResults.get('search');
  if (turn === 0) return { toolCalls: [{ name: 'search', arguments: { query: topic, limit: 3 } }] };
  if (!Array.isArray(found) || found.length === 0) {
    return {
      text: JSON.stringify({ summary: `Nothing in the knowledge base about ${topic}.`, sources: [] }),
    };
  }
  const documents = found as Found;
  if (!toolResults.has('summarize')) {
    return {
      toolCalls: [{ name: 'summarize', arguments: { texts: documents.map((document) => document.text) } }],
    };
  }
  return {
    text: JSON.stringify({
      summary: String(toolResults.get('summarize')),
      sources: documents.map((document) => document.url),
    }),
  };
}

const offline = offlineTiers('research', researchScript);

export const research = defineAgent({
  name: 'research',
  description: 'Researches a topic in the knowledge base and answers with a summary and its sources.',
  instructions:
    'You research a topic. Search first, then summarise what you found, then answer with JSON ' +
    '{"summary": string, "sources": string[]} citing the URLs you used. Never invent sources.',
  input: z.object({ topic: z.string().min(2).max(200) }),
  output: z.object({ summary: z.string(), sources: z.array(z.string()) }),
  tools: [search, summarize],
  models: {
    plan: ['openai:gpt-4.1', offline.plan],
    execute: ['openai:gpt-4.1-mini', offline.execute],
  },
  limits: { maxIterations: 25, maxCostUsd: 0.25 },
});
