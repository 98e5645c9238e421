import { type CommandContext, clientFor, parseCommandLine, writeJson, writeLine } from './command-line.ts';
import { exitCodes } from './exit-codes.ts';

const usage = 'plainloop approve <id> <callId> [--deny] [--comment <text>] [--json]';

/** `plainloop approve <id> <callId>`: decides a tool call that waits for a person (`--deny` to refuse it). */
export async function approveCommand(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { deny: { type: 'boolean' }, comment: { type: 'string' } },
    { names: ['<id>', '<callId>'], usage },
  );
  const [runId, callId] = positionals as [string, string];
  const client = clientFor(values, context.environment);
  const reply = await client.approve(runId, callId, {
    approved: values.deny !== true,
    comment: values.comment,
  });
  if (values.json) writeJson(context.output, reply);
  else writeLine(context.output, `${reply.decision} call ${reply.callId} of ${reply.runId}`);
  return exitCodes.success;
}
