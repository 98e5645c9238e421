import type { Message } from '@plainloop/contracts';
import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Tokens are counted with OpenAI's o200k_base encoding, a real tokenizer. For Anthropic and Gemini,
 * which publish no local tokenizer, it is an estimate that is close for English text; the output
 * reserve absorbs the difference.
 */
export function tokensOf(text: string): number {
  return countTokens(text);
}

/** What each message costs beyond its text (role and separators), as providers bill it, roughly. */
const perMessageOverhead = 4;

export function messageTokens(message: Message): number {
  let tokens = perMessageOverhead + tokensOf(message.content);
  if (message.role === 'assistant') {
    for (const call of message.toolCalls) tokens += tokensOf(call.name) + tokensOf(call.argumentsJson) + 3;
  }
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
