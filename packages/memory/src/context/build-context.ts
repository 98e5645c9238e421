import { type Message, PlainloopError } from '@plainloop/contracts';
import { messageTokens, tokensOf, truncateToTokens } from './token-count.ts';

/** A fact the conversation established, kept in context for the whole thread. */
export type Fact = { key: string; value: string };
/** An item recalled from semantic memory for this run, most relevant first. */
export type RecalledItem = { text: string; score: number };

export type ContextParts = {
  instructions: string;
  /** Notes about this run that belong with the instructions (tools the session breaker disabled). */
  notes: readonly string[];
  facts: readonly Fact[];
  /** The rolling summary of the thread's turns that were folded away. */
  summary: string | undefined;
  /** The thread's turns not folded into the summary yet, oldest first (earlier runs of the thread). */
  history: readonly Message[];
  /** This run's input, as the user's message. */
  input: string;
  /** This run's own transcript. */
  turns: readonly Message[];
  recalled: readonly RecalledItem[];
};

export type ContextLimits = {
  /** Tokens the prompt may take: the model's context window (or the agent's cap) less the output reserve. */
  promptTokens: number;
  /** The most one tool output may take; longer ones are cut with a visible marker. */
  toolOutputTokens: number;
  /** The most the recalled items may take together. */
  recallTokens: number;
};

export type BuiltContext = {
  messages: Message[];
  tokens: number;
  /** History turns left out because they did not fit (the summary should have folded them). */
  historyDropped: number;
  toolOutputsCut: number;
  recalledUsed: number;
};

/** The parts that must be in every prompt (instructions, facts, summary, input, the run's turns) do not fit. */
export class ContextOverflowError extends PlainloopError {
  constructor(message: string) {
    super('context_overflow', message);
  }
}

function memoryBlock({ facts, summary, notes }: ContextParts): string | undefined {
  const sections: string[] = [];
  if (facts.length > 0) {
    sections.push(
      `Facts established in this conversation (they stay true unless the user changes them):\n${facts
        .map((fact) => `- ${fact.key}: ${fact.value}`)
        .join('\n')}`,
    );
  }
  if (summary) sections.push(`Summary of the conversation before the recent turns:\n${summary}`);
  sections.push(...notes);
  return sections.length > 0 ? sections.join('\n\n') : undefined;
}

/** Groups of history that stand or fall together: each starts at a user message (a run's input). */
function exchangesOf(history: readonly Message[]): Message[][] {
  const exchanges: Message[][] = [];
  for (const message of history) {
    if (message.role === 'user' || exchanges.length === 0) exchanges.push([message]);
    else exchanges.at(-1)?.push(message);
  }
  return exchanges;
}

/**
 * The working context of one model call, fitted into the prompt budget. The order keeps the prompt's
 * prefix stable for providers' prompt caches: the instructions first, then facts, summary and notes
 * (which change only when the summary is rolled or a fact is learned), then the thread's recent
 * history, then this run's input (with any recalled notes) and its own turns, which grow at the end.
 * What must be there always is; recalled items fill what is left up to their share, then history
 * from the newest exchange back. A tool output over its share is cut with a visible marker.
 */
export function buildContext(parts: ContextParts, limits: ContextLimits): BuiltContext {
  let toolOutputsCut = 0;
  const fitted = (message: Message): Message => {
    if (message.role !== 'tool') return message;
    const { text, cutTokens } = truncateToTokens(message.content, limits.toolOutputTokens);
    if (cutTokens === 0) return message;
    toolOutputsCut += 1;
    return { ...message, content: text };
  };

  const head: Message[] = [{ role: 'system', content: parts.instructions }];
  const block = memoryBlock(parts);
  if (block) head.push({ role: 'system', content: block });
  const turns = parts.turns.map(fitted);
  const sum = (messages: readonly Message[]) =>
    messages.reduce((total, message) => total + messageTokens(message), 0);
  const fixed = sum(head) + sum(turns) + messageTokens({ role: 'user', content: parts.input });
  if (fixed > limits.promptTokens) {
    throw new ContextOverflowError(
      `the instructions, facts, summary, input and this run's turns take ${fixed} tokens, over the ${limits.promptTokens} the model's context allows`,
    );
  }

  let room = limits.promptTokens - fixed;
  const recalled: string[] = [];
  let recallRoom = Math.min(limits.recallTokens, room);
  for (const item of parts.recalled) {
    const line = `- ${item.text}`;
    const cost = tokensOf(line) + 1;
    if (cost > recallRoom) break;
    recalled.push(line);
    recallRoom -= cost;
  }
  const input =
    recalled.length === 0
      ? parts.input
      : `Notes recalled from earlier conversations (use them if they help):\n${recalled.join('\n')}\n\n${parts.input}`;
  room =
    limits.promptTokens -
    (fixed - messageTokens({ role: 'user', content: parts.input })) -
    messageTokens({ role: 'user', content: input });

  const kept: Message[][] = [];
  const exchanges = exchangesOf(parts.history);
  let historyDropped = 0;
  for (let index = exchanges.length - 1; index >= 0; index -= 1) {
    const exchange = (exchanges[index] ?? []).map(fitted);
    const cost = sum(exchange);
    if (cost > room) {
      historyDropped = exchanges.slice(0, index + 1).reduce((total, each) => total + each.length, 0);
      break;
    }
    kept.unshift(exchange);
    room -= cost;
  }

  const messages: Message[] = [...head, ...kept.flat(), { role: 'user', content: input }, ...turns];
  return {
    messages,
    tokens: limits.promptTokens - room,
    historyDropped,
    toolOutputsCut,
    recalledUsed: recalled.length,
  };
}
