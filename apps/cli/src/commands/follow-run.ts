import type { PlainloopClient } from '@plainloop/client';
import { type CommandContext, writeJson, writeLine } from './command-line.ts';
import { exitCodes } from './exit-codes.ts';
import { endingLines, progressReporter } from './format-run.ts';

/**
 * `--wait`: follows the run to its end, a progress line per event unless the output is JSON, then
 * says how it ended (or prints the run as JSON). Exits 0 only when the run succeeded.
 */
export async function waitAndReport(
  client: PlainloopClient,
  runId: string,
  { output }: CommandContext,
  json: boolean,
): Promise<number> {
  const progress = progressReporter();
  const run = await client.waitForRun(
    runId,
    json ? {} : { onEvent: (streamed) => writeLine(output, progress(streamed)) },
  );
  if (json) writeJson(output, run);
  else for (const line of endingLines(run)) writeLine(output, line);
  return run.status === 'succeeded' ? exitCodes.success : exitCodes.runDidNotSucceed;
}
