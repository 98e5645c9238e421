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
};

/** JSON lines on stdout (or `destination`), ISO times, secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, pid: process.pid },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
