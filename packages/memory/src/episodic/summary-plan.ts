import type { Message } from '@plainloop/contracts';
import { z } from 'zod';
import type { Fact } from '../context/build-context.ts';
import { messageTokens, truncateToTokens } from '../context/token-count.ts';
import type { ThreadMemory } from './thread-store.ts';

/** Which of the thread's recent turns to fold into the summary, and the absolute index it then covers. */
export type SummaryPlan = { fold: Message[]; through: number };

/**
 * Whether the thread's recent turns outgrew `historyTokens`, and if so which to fold: the oldest whole
 * exchanges (each starts at a user message, so a tool call is never split from its result) until what
 * is left takes at most half the budget. Folding to half, not just under, means a summary step comes
 * every few runs, not every run.
 */
export function planSummary(memory: ThreadMemory, historyTokens: number): SummaryPlan | undefined {
  const costs = memory.recent.map((message) => messageTokens(message));
  let remaining = costs.reduce((total, cost) => total + cost, 0);
  if (remaining <= historyTokens) return undefined;
  const starts = memory.recent
    .map((message, index) => (index === 0 || message.role === 'user' ? index : -1))
    .filter((index) => index >= 0);
  let cut = 0;
  for (let exchange = 0; exchange < starts.length && remaining > historyTokens / 2; exchange += 1) {
    const end = starts[exchange + 1] ?? memory.recent.length;
    for (let index = starts[exchange] ?? 0; index < end; index += 1) remaining -= costs[index] ?? 0;
    cut = end;
  }
  return { fold: memory.recent.slice(0, cut), through: memory.recentFrom + cut };
}

/** What the summarizer must answer: the new rolling summary and the facts it found. */
export const SummaryAnswer = z.object({
  summary: z.string().min(1),
  facts: z.array(z.object({ key: z.string().min(1).max(100), value: z.string().max(1_000) })).max(50),
});
export type SummaryAnswer = z.infer<typeof SummaryAnswer>;

export const summaryAnswerSchema = {
  type: 'object',
  properties: {
    summary: { type: 'string' },
    facts: {
      type: 'array',
      items: {
        type: 'object',
        properties: { key: { type: 'string' }, value: { type: 'string' } },
        required: ['key', 'value'],
        additionalProperties: false,
      },
    },
  },
  required: ['summary', 'facts'],
  additionalProperties: false,
} as const;

/** Each folded message reaches the summarizer cut to this, so one huge tool output cannot sink it. */
const foldedMessageTokens = 300;

function transcriptOf(messages: readonly Message[]): string {
  const cut = (text: string) => truncateToTokens(text, foldedMessageTokens).text;
  return messages
    .map((message) => {
      if (message.role === 'assistant') {
        const calls = message.toolCalls
          .map((call) => `[called ${call.name} ${call.argumentsJson}]`)
          .join(' ');
        return `assistant: ${cut(message.content)}${calls ? ` ${cut(calls)}` : ''}`;
      }
      if (message.role === 'tool') return `tool ${message.toolName}: ${cut(message.content)}`;
      return `${message.role}: ${cut(message.content)}`;
    })
    .join('\n');
}

/** The summarizer's messages: the summary so far, the facts, and the turns to fold in. */
export function summaryMessages(
  previous: string | undefined,
  facts: readonly Fact[],
  fold: readonly Message[],
): Message[] {
  const known =
    facts.length === 0 ? '(none yet)' : facts.map((fact) => `- ${fact.key}: ${fact.value}`).join('\n');
  return [
    {
      role: 'system',
      content:
        'You keep the memory of a long conversation. Fold the new turns into the summary: keep what later turns may need (decisions, open questions, names, numbers, what the user wants), drop chit-chat, stay under 300 words. List as facts only durable things the user stated or the conversation settled (a name, a preference, an id), each with a short key; repeat a known fact only if its value changed. Answer with JSON: {"summary": string, "facts": [{"key": string, "value": string}]}.',
    },
    {
      role: 'user',
      content: `Summary so far:\n${previous ?? '(empty: this is the start of the conversation)'}\n\nKnown facts:\n${known}\n\nNew turns to fold in:\n${transcriptOf(fold)}`,
    },
  ];
}

/** The summarizer's answer, or undefined when it is not the JSON asked for. */
export function parseSummaryAnswer(text: string): SummaryAnswer | undefined {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return undefined;
  try {
    const parsed = SummaryAnswer.safeParse(JSON.parse(text.slice(start, end + 1)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
