import { type CommandContext, clientFor, parseCommandLine, writeJson, writeLine } from './command-line.ts';
import { exitCodes } from './exit-codes.ts';

const usage = 'plainloop cancel <id> [--reason <text>] [--json]';

/** `plainloop cancel <id>`: a queued or waiting run ends at once; a running one when its worker hears. */
export async function cancelCommand(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { reason: { type: 'string' } },
    { names: ['<id>'], usage },
  );
  const client = clientFor(values, context.environment);
  const reply = await client.cancel(positionals[0] as string, values.reason);
  if (values.json) writeJson(context.output, reply);
  else
    writeLine(
      context.output,
      reply.cancel === 'requested'
        ? `${reply.runId}: cancel requested; its worker stops it within moments (plainloop runs show ${reply.runId})`
        : `${reply.runId} cancelled`,
    );
  return exitCodes.success;
}
