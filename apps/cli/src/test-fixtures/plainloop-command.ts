import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `plainloop` bin, as `npx plainloop` runs it. */
export const bin = fileURLToPath(new URL('../../bin/plainloop.js', import.meta.url));

/**
 * Runs the real `plainloop` bin as a user's shell would, and resolves with its exit code and output.
 * With `readLines`, the reader goes away after that many lines, as `| head -n` does, and then
 * `whenReaderLeft` runs (to make the command write again, into the closed pipe). With `terminateOn`,
 * it is sent SIGTERM once its output says that text.
 */
export function runPlainloop(
  args: string[],
  environment: NodeJS.ProcessEnv,
  {
    timeoutMs = 60_000,
    readLines,
    whenReaderLeft,
    terminateOn,
  }: {
    timeoutMs?: number;
    readLines?: number;
    whenReaderLeft?: () => unknown;
    /** Sends SIGTERM, once, when the output first holds this text (a process that must be stopped). */
    terminateOn?: string;
  } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: environment });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (terminateOn !== undefined && stdout.includes(terminateOn) && !child.killed) child.kill('SIGTERM');
      if (readLines !== undefined && !child.stdout.destroyed && stdout.split('\n').length > readLines) {
        child.stdout.destroy();
        whenReaderLeft?.();
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`plainloop ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
