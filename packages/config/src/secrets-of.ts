import type { PlainloopConfig } from './load-config.ts';

/**
 * Every secret value the process holds, for the logger to blank out wherever it appears in a line
 * (a provider's error message that quotes a key, a URL with the Telegram bot token in it), on top of
 * the field paths it redacts. Short values are left out: blanking a 3-character string would mangle
 * unrelated text, and no real key is that short.
 */
export function secretsOf(config: PlainloopConfig, redisUrl?: string): string[] {
  const values = [
    config.providers.openai.apiKey,
    config.providers.anthropic.apiKey,
    config.providers.google.apiKey,
    config.alerts.telegram.botToken,
    redisPasswordOf(redisUrl ?? config.redis.url),
  ];
  return values.filter((value): value is string => value !== undefined && value.length >= 6);
}

function redisPasswordOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}
