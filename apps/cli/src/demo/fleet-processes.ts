import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/plainloop.js', import.meta.url));

export type FleetProcess = { name: string; child: ChildProcess; logFile: string };

/** A port on 127.0.0.1 nothing listens on right now, for a child process to take. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Starts `plainloop <args>` as a child process whose output goes to a log file. */
export function startPlainloopProcess(
  name: string,
  args: string[],
  environment: NodeJS.ProcessEnv,
  logDirectory: string,
): FleetProcess {
  const logFile = join(logDirectory, `${name}.log`);
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [bin, ...args], { env: environment, stdio: ['ignore', log, log] });
  return { name, child, logFile };
}

/** SIGTERM, the graceful path; SIGKILL whatever has not exited after `graceMs`. */
export async function stopProcesses(processes: readonly FleetProcess[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    processes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Rejects as soon as any of the processes exits, naming it and its log. */
export function exitOfAny(processes: readonly FleetProcess[]): Promise<never> {
  return new Promise((_resolve, reject) => {
    for (const { name, child, logFile } of processes) {
      child.once('exit', (code, signal) =>
        reject(new Error(`the ${name} process exited (${signal ?? `code ${code}`}); see ${logFile}`)),
      );
    }
  });
}
