import { describeFailure, exitCodeOf } from './commands/exit-codes.ts';
import { runCli } from './run-cli.ts';

/**
 * The process entry of `plainloop`. A failure the code names (bad config, no Redis, a bad agents
 * module, a wrong flag, an API refusal) is one line on stderr; anything else is one line too, never
 * a stack trace. The exit code says which kind it was (see `exitCodes`).
 */
// A reader that went away (`plainloop events <id> | head`) ends the command quietly, as it does any
// Unix tool, instead of crashing on the next write.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`plainloop: ${describeFailure(error)}\n`);
  process.exitCode = exitCodeOf(error);
}
// Open connections or timers left by a library must not keep a finished command alive.
setTimeout(() => process.exit(), 100).unref();
