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
  /** The most the facts, and separately the summary, may take; the newest facts are kept. */
  memoryTokens: number;
  /** What the tool definitions and the answer's schema take: sent beside the messages, billed as prompt. */
  toolsTokens: number;
};

/** A tool output of an earlier step of the run, when even the essentials do not fit otherwise. */
const compactToolOutputTokens = (limits: ContextLimits) =>
  Math.min(64, Math.floor(limits.toolOutputTokens / 4));

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

function memoryBlock({ facts, summary, notes }: ContextParts, memoryTokens: number): string | undefined {
  const sections: string[] = [];
  if (facts.length > 0) {
    // Newest first until the share is used: a thread's facts can outgrow any prompt.
    const lines: string[] = [];
    let room = memoryTokens;
    for (const fact of [...facts].reverse()) {
      const line = `- ${fact.key}: ${fact.value}`;
      room -= tokensOf(line) + 1;
      if (room < 0) break;
      lines.unshift(line);
    }
    const left = facts.length - lines.length;
    sections.push(
      `Facts established in this conversation (they stay true unless the user changes them):\n${lines.join('\n')}${left > 0 ? `\n(${left} older facts not shown)` : ''}`,
    );
  }
  if (summary)
    sections.push(
      `Summary of the conversation before the recent turns:\n${truncateToTokens(summary, memoryTokens).text}`,
    );
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
    // The (cached) count says whether a cut is needed, so short outputs are not tokenized again.
    if (message.role !== 'tool' || messageTokens(message) <= limits.toolOutputTokens) return message;
    const { text, cutTokens } = truncateToTokens(message.content, limits.toolOutputTokens);
    if (cutTokens === 0) return message;
    toolOutputsCut += 1;
    return { ...message, content: text };
  };

  const head: Message[] = [{ role: 'system', content: parts.instructions }];
  const block = memoryBlock(parts, limits.memoryTokens);
  if (block) head.push({ role: 'system', content: block });
  const sum = (messages: readonly Message[]) =>
    messages.reduce((total, message) => total + messageTokens(message), 0);
  const inputTokens = messageTokens({ role: 'user', content: parts.input });
  const essentials = (turns: readonly Message[]) => limits.toolsTokens + sum(head) + sum(turns) + inputTokens;
  let turns = parts.turns.map(fitted);
  if (essentials(turns) > limits.promptTokens) {
    // A long run: the tool outputs of its earlier steps give way (the latest step's stay whole).
    const latestStep = turns.findLastIndex((message) => message.role === 'assistant');
    turns = turns.map((message, index) => {
      if (message.role !== 'tool' || index > latestStep) return message;
      const { text, cutTokens } = truncateToTokens(message.content, compactToolOutputTokens(limits));
      if (cutTokens > 0) toolOutputsCut += 1;
      return { ...message, content: text };
    });
  }
  const fixed = essentials(turns);
  if (fixed > limits.promptTokens) {
    throw new ContextOverflowError(
      `the instructions, tools, facts, summary, input and this run's turns take ${fixed} tokens, over the ${limits.promptTokens} the model's context allows`,
    );
  }

  // Recalled notes go in front of the input, as many as fit their share, best first.
  const withNotes = (lines: readonly string[]) =>
    lines.length === 0
      ? parts.input
      : `Notes recalled from earlier conversations (use them if they help):\n${lines.join('\n')}\n\n${parts.input}`;
  const recallRoom = Math.min(limits.recallTokens, limits.promptTokens - fixed);
  const recalled: string[] = [];
  for (const item of parts.recalled) {
    const candidate = [...recalled, `- ${item.text}`];
    if (messageTokens({ role: 'user', content: withNotes(candidate) }) - inputTokens > recallRoom) break;
    recalled.push(`- ${item.text}`);
  }
  const input = withNotes(recalled);
  let room = limits.promptTokens - (fixed - inputTokens) - messageTokens({ role: 'user', content: input });

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
