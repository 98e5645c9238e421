import type { Message } from '@plainloop/contracts';
import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Tokens are counted with OpenAI's o200k_base encoding, a real tokenizer. For Anthropic and Gemini,
 * which publish no local tokenizer, it is an estimate that is close for English text; the output
 * reserve absorbs the difference.
 */
export function tokensOf(text: string): number {
  const counted = countedTexts.get(text);
  if (counted !== undefined) return counted;
  const tokens = countTokens(text);
  if (text.length <= maxCachedTextLength) {
    // Bounded by characters held: a busy worker sees many texts; forgetting them all at once is
    // simpler than an LRU and costs one recount of the texts still in use.
    if (cachedCharacters + text.length > maxCachedCharacters) {
      countedTexts.clear();
      cachedCharacters = 0;
    }
    countedTexts.set(text, tokens);
    cachedCharacters += text.length;
  }
  return tokens;
}

/**
 * Counts by text, for what every step rebuilds as new strings with the same content: the instructions,
 * the input, the tool list as JSON. Tokenizing them again each step was a visible share of a step's CPU.
 */
const countedTexts = new Map<string, number>();
let cachedCharacters = 0;
/** About 2 MB of text at most: instructions, inputs and tool lists of the agents in use fit many times. */
const maxCachedCharacters = 1_000_000;
const maxCachedTextLength = 16_384;

/** What each message costs beyond its text (role and separators), as providers bill it, roughly. */
const perMessageOverhead = 4;

/**
 * Counts by message object: a step rebuilds its context from the same transcript messages every time,
 * so each is tokenized once, not once per step (that would grow with the run's history).
 */
const countedMessages = new WeakMap<Message, number>();

export function messageTokens(message: Message): number {
  const counted = countedMessages.get(message);
  if (counted !== undefined) return counted;
  let tokens = perMessageOverhead + tokensOf(message.content);
  if (message.role === 'assistant') {
    for (const call of message.toolCalls) tokens += tokensOf(call.name) + tokensOf(call.argumentsJson) + 3;
  }
  countedMessages.set(message, tokens);
  return tokens;
}

/** `text` cut to at most `limit` tokens, with a marker that says how much was left out. */
export function truncateToTokens(text: string, limit: number): { text: string; cutTokens: number } {
  const tokens = encode(text);
  if (tokens.length <= limit) return { text, cutTokens: 0 };
  const cutTokens = tokens.length - limit;
  return {
    text: `${decode(tokens.slice(0, limit))}\n[… ${cutTokens} more tokens of this output were cut to fit the context window]`,
    cutTokens,
  };
}
