import { ModelRef } from '@plainloop/contracts';
import { UsageError } from '../usage-error.ts';
import {
  type CommandContext,
  clientFor,
  integerFlag,
  parseCommandLine,
  writeJson,
  writeLine,
} from './command-line.ts';
import { exitCodes } from './exit-codes.ts';
import { waitAndReport } from './follow-run.ts';

const usage =
  'plainloop fork <id> --from-step <n> [--plan-model <provider:model>]... [--execute-model <provider:model>]... [--idempotency-key <key>] [--wait] [--json]';

function modelChain(flag: string, refs: string[] | undefined): string[] | undefined {
  for (const ref of refs ?? [])
    if (!ModelRef.safeParse(ref).success)
      throw new UsageError(`--${flag} takes provider:model (e.g. openai:gpt-4.1), not "${ref}"`);
  return refs;
}

/**
 * `plainloop fork <id> --from-step <n>`: a new run that replays the source's first n steps from its
 * record and goes on from there, with other models if given (repeat a flag for a fallback chain).
 */
export async function forkCommand(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      'from-step': { type: 'string' },
      'plan-model': { type: 'string', multiple: true },
      'execute-model': { type: 'string', multiple: true },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean' },
    },
    { names: ['<id>'], usage },
  );
  if (values['from-step'] === undefined) throw new UsageError(`--from-step is required; usage: ${usage}`);
  const fromStep = integerFlag('from-step', values['from-step'], 0, 1_000);
  const plan = modelChain('plan-model', values['plan-model']);
  const execute = modelChain('execute-model', values['execute-model']);
  const client = clientFor(values, context.environment);
  const forked = await client.fork(positionals[0] as string, {
    fromStep,
    ...(plan || execute ? { models: { ...(plan ? { plan } : {}), ...(execute ? { execute } : {}) } } : {}),
    idempotencyKey: values['idempotency-key'],
  });
  const json = values.json === true;
  const line = `${forked.runId} ${forked.status}: forked from ${forked.forkedFrom.runId} at step ${forked.forkedFrom.step}${forked.replayed ? ' (this idempotency key had already made it)' : ''}`;
  if (!values.wait) {
    if (json) writeJson(context.output, forked);
    else writeLine(context.output, line);
    return exitCodes.success;
  }
  if (!json) writeLine(context.output, line);
  return waitAndReport(client, forked.runId, context, json);
}
