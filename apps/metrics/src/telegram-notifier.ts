import { PlainloopError } from '@plainloop/contracts';

export type TelegramSettings = { apiUrl: string; botToken: string; chatId: string };

/** A message Telegram did not take. Its message never holds the URL: the bot token is part of it. */
class TelegramError extends PlainloopError {
  constructor(message: string) {
    super('telegram_failed', message, { retryable: true });
  }
}

type TelegramReply = { ok: boolean; description?: string; parameters?: { retry_after?: number } };

/**
 * Sends one message with the Bot API's `sendMessage`. A refusal is an error whose message says why
 * (with Telegram's advised wait when its flood control answered 429); the caller sends again at its
 * next evaluation (an earlier retry would only meet another 429).
 */
export async function sendTelegramMessage(
  settings: TelegramSettings,
  text: string,
  timeoutMs = 10_000,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${settings.apiUrl.replace(/\/$/, '')}/bot${settings.botToken}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: settings.chatId, text, disable_web_page_preview: true }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    // fetch's own errors name the cause, never the URL; keep it that way by not quoting the request.
    const cause =
      error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
    throw new TelegramError(`could not reach Telegram: ${cause}`);
  }
  const reply = (await response.json().catch(() => ({ ok: false }))) as TelegramReply;
  if (response.ok && reply.ok) return;
  const retryAfter = reply.parameters?.retry_after;
  const wait = retryAfter === undefined ? '' : `, retry after ${retryAfter} s`;
  throw new TelegramError(
    `Telegram refused the message (${response.status}${reply.description ? `: ${reply.description}` : ''}${wait})`,
  );
}
