import { type CommandContext, clientFor, parseCommandLine, writeLine } from './command-line.ts';
import { exitCodes } from './exit-codes.ts';
import { progressReporter } from './format-run.ts';

const usage = 'plainloop events <id> [--json]';

/**
 * `plainloop events <id>`: the run's events from its first, following it until `run.finished`
 * (reconnecting if the connection drops). Human output is a timed line per event; `--json` is one
 * `{id, event}` object per line (NDJSON).
 */
export async function eventsCommand(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {}, { names: ['<id>'], usage });
  const client = clientFor(values, context.environment);
  const progress = progressReporter();
  for await (const streamed of client.events(positionals[0] as string)) {
    if (values.json) context.output.write(`${JSON.stringify(streamed)}\n`);
    else
      writeLine(
        context.output,
        `${new Date(streamed.event.at).toISOString().slice(11, 23)}  ${progress(streamed)}`,
      );
  }
  return exitCodes.success;
}
