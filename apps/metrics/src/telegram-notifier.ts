import { PlainloopError } from '@plainloop/contracts';

export type TelegramSettings = { apiUrl: string; botToken: string; chatId: string };

/** A message Telegram did not take. Its message never holds the URL: the bot token is part of it. */
class TelegramError extends PlainloopError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, retryAfterMs?: number) {
    super('telegram_failed', message);
    this.retryAfterMs = retryAfterMs;
  }
}

type TelegramReply = { ok: boolean; description?: string; parameters?: { retry_after?: number } };

/**
 * Sends one message with the Bot API's `sendMessage`. Telegram's flood control answers 429 with
 * `parameters.retry_after` (seconds), which the error carries so the caller can wait that long.
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
  throw new TelegramError(
    `Telegram refused the message (${response.status}${reply.description ? `: ${reply.description}` : ''})`,
    retryAfter === undefined ? undefined : retryAfter * 1000,
  );
}
