import { type ParseArgsConfig, parseArgs } from 'node:util';
import { PlainloopClient } from '@plainloop/client';
import { UsageError } from '../usage-error.ts';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Where a command writes what it has to say: the process's stdout, or a test's buffer. */
export type OutputSink = { write(text: string): unknown };

/** What every client command gets: the flags after its name, the environment, and its output. */
export type CommandContext = { environment: NodeJS.ProcessEnv; output: OutputSink };

/** The flags every command that talks to the API takes. */
const apiFlags = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionsConfig;

const defaultApiUrl = 'http://127.0.0.1:3000';

/** Parses a command's flags (its own and the API flags) and positionals; a mistake is a `UsageError`. */
export function parseCommandLine<Options extends OptionsConfig>(
  argv: string[],
  options: Options,
  positionals: { names: string[]; usage: string },
) {
  let parsed: ReturnType<
    typeof parseArgs<{
      args: string[];
      options: Options & typeof apiFlags;
      allowPositionals: true;
      strict: true;
    }>
  >;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, ...apiFlags },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      `${(error as Error).message.split('\n')[0] ?? 'bad arguments'}; usage: ${positionals.usage}`,
    );
  }
  if (parsed.positionals.length !== positionals.names.length)
    throw new UsageError(
      parsed.positionals.length < positionals.names.length
        ? `missing ${positionals.names.slice(parsed.positionals.length).join(' and ')}; usage: ${positionals.usage}`
        : `unexpected argument "${parsed.positionals[positionals.names.length]}"; usage: ${positionals.usage}`,
    );
  return { values: parsed.values, positionals: parsed.positionals };
}

/** The API client of a command: `--api-url` / `PLAINLOOP_API_URL`, `--api-key` / `PLAINLOOP_API_KEY`. */
export function clientFor(
  values: { 'api-url'?: string | undefined; 'api-key'?: string | undefined },
  environment: NodeJS.ProcessEnv,
): PlainloopClient {
  const baseUrl = values['api-url'] ?? environment.PLAINLOOP_API_URL ?? defaultApiUrl;
  if (!/^https?:\/\/./.test(baseUrl) || !URL.canParse(baseUrl))
    throw new UsageError(
      `the API address is not an http(s) URL: ${baseUrl} (--api-url or PLAINLOOP_API_URL)`,
    );
  const apiKey = values['api-key'] ?? environment.PLAINLOOP_API_KEY;
  return new PlainloopClient({ baseUrl, ...(apiKey ? { apiKey } : {}) });
}

/** A whole-number flag within bounds; anything else is a `UsageError` naming the flag. */
export function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  return value;
}

export function writeLine(output: OutputSink, line = ''): void {
  output.write(`${line}\n`);
}

/** `--json` output: one JSON document on stdout, nothing else there. */
export function writeJson(output: OutputSink, value: unknown): void {
  output.write(`${JSON.stringify(value, null, 2)}\n`);
}
