import type { PlainloopConfig } from './load-config.ts';
import { parseRedisAddress } from './redis-address.ts';

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
    config.webhooks.secret,
    ...apiKeysOf(config.api.keys),
    ...redisPasswordsOf(redisUrl ?? config.redis.url),
  ];
  const secrets = values.filter((value): value is string => value !== undefined && value.length >= 6);
  return [...new Set(secrets)];
}

/** The keys of `PLAINLOOP_API_KEYS` (`tenant:key,...`); the variable as a whole is a secret too. */
function apiKeysOf(pairs: string | undefined): string[] {
  if (pairs === undefined) return [];
  return [pairs, ...pairs.split(',').map((pair) => pair.slice(pair.indexOf(':') + 1).trim())];
}

/** The Redis password as written in the URL and as decoded: either may end up quoted in a line. */
function redisPasswordsOf(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    const address = parseRedisAddress(url);
    if (address.mode === 'cluster')
      return address.password ? [address.password, encodeURIComponent(address.password)] : [];
    const password = new URL(url).password;
    return password === '' ? [] : [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}
