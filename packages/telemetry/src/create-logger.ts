import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out before a line is written. Secrets reach the logger inside configs, SDK errors
 * and request headers; listing the shapes here keeps them out of every line, whatever logged them.
 */
export const redactedPaths = [
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  '*.*.*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  '*.headers["x-goog-api-key"]',
  'headers.cookie',
  '*.headers.cookie',
  'password',
  '*.password',
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'redisUrl',
  '*.redisUrl',
];

export type LoggerOptions = {
  /** The process or component, e.g. `worker`; becomes the `service` field of every line. */
  service: string;
  level?: string;
  destination?: DestinationStream;
  /** Secret values to blank out wherever they appear in a line, whatever field or message holds them. */
  secrets?: readonly string[];
};

/** Each secret as it appears in a JSON line: raw, and escaped the way JSON.stringify writes it. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]);
  // Longest first, so a secret that contains another is blanked whole.
  return [...new Set(forms)]
    .filter((form) => form.length > 0)
    .sort((left, right) => right.length - left.length);
}

/** JSON lines on stdout (or `destination`), ISO times, secrets redacted by path and by value. */
export function createLogger(options: LoggerOptions): Logger {
  const forms = secretForms(options.secrets ?? []);
  return pino(
    {
      level: options.level ?? 'info',
      ...(forms.length === 0
        ? {}
        : {
            hooks: {
              streamWrite: (line: string) =>
                forms.reduce((scrubbed, form) => scrubbed.replaceAll(form, '[redacted]'), line),
            },
          }),
      base: { service: options.service, pid: process.pid },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
