import { readFileSync } from 'node:fs';
import { UsageError } from '../usage-error.ts';
import { type CommandContext, clientFor, parseCommandLine, writeJson, writeLine } from './command-line.ts';
import { exitCodes } from './exit-codes.ts';
import { waitAndReport } from './follow-run.ts';

const usage =
  "plainloop run <agent> --input '<json>' | --input @file.json [--thread <id>] [--idempotency-key <key>] [--wait] [--json]";

/** `--input`: JSON on the command line, or `@path` for a file of JSON. */
function parseInput(text: string): unknown {
  let source = text;
  if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new UsageError(`cannot read the input file ${text.slice(1)} (${reason})`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new UsageError(
      `--input is not JSON (${(error as Error).message}); quote strings: --input '"hello"'`,
    );
  }
}

/** `plainloop run <agent>`: queues a run over the API; with `--wait`, follows it to its end. */
export async function runCommand(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      input: { type: 'string' },
      thread: { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean' },
    },
    { names: ['<agent>'], usage },
  );
  if (values.input === undefined) throw new UsageError(`--input is required; usage: ${usage}`);
  const input = parseInput(values.input);
  const client = clientFor(values, context.environment);
  const idempotencyKey = values['idempotency-key'];
  const created = await client.createRun({
    agent: positionals[0] as string,
    input,
    ...(values.thread === undefined ? {} : { threadId: values.thread }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  });
  const json = values.json === true;
  if (!values.wait) {
    if (json) writeJson(context.output, created);
    else writeLine(context.output, createdLine(created));
    return exitCodes.success;
  }
  if (!json) writeLine(context.output, createdLine(created));
  return waitAndReport(client, created.runId, context, json);
}

function createdLine(created: { runId: string; status: string; replayed: boolean }): string {
  const replayed = created.replayed
    ? ' (this idempotency key had already made it: nothing new was queued)'
    : '';
  return `${created.runId} ${created.status}${replayed}`;
}
