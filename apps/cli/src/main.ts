import { PlainloopError } from '@plainloop/contracts';
import { runCli } from './run-cli.ts';
import { UsageError } from './usage-error.ts';

/**
 * The process entry of `plainloop`. A failure the code names (bad config, no Redis, a bad agents
 * module, a wrong flag) is one line on stderr; anything else is one line too, never a stack trace.
 */
try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  if (error instanceof PlainloopError) {
    process.stderr.write(`plainloop: ${error.message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`plainloop: unexpected error: ${message}\n`);
    process.exitCode = 1;
  }
}
// Open connections or timers left by a library must not keep a finished command alive.
setTimeout(() => process.exit(), 100).unref();
