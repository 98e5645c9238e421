/** What the scenarios share: the machine line, worker child processes, waiting for a queue to drain. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Redis } from '@plainloop/redis';

export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** `figure (target …: met|MISSED)`, the form every scenario prints its figures in. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

export async function describeMachine(redis: Redis, redisSource: string): Promise<string> {
  const server = String(await redis.call('INFO', 'server'));
  const redisVersion = /redis_version:([^\r\n]+)/.exec(server)?.[1] ?? 'unknown';
  const workerPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const gib = (totalmem() / 2 ** 30).toFixed(0);
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  return [
    `machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${gib} GiB, ${process.platform} ${process.arch}`,
    `versions: Node ${process.version}, Redis ${redisVersion} (${redisSource}), bullmq ${workerPackage.dependencies.bullmq}`,
    `load average at start: ${load}`,
  ].join('\n');
}

export type WorkerKind = 'plainloop' | 'raw-bullmq' | 'hand-rolled';

export type WorkerChild = {
  /** `performance.now()` in this process when the child said it was starting its worker. */
  startedAt: number;
  /**
   * Closes the child's worker and waits for the process to exit (writing its CPU profile, if any);
   * resolves to the CPU time the process used since `startedAt`, in seconds.
   */
  close(): Promise<number>;
};

const childFile = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Starts a worker of `kind` in its own Node process, so the worker has an event loop to itself (the
 * bench process polls Redis and keeps figures) and can be profiled on its own (`cpuProfileDir`).
 */
export async function startWorkerChild(options: {
  kind: WorkerKind;
  url: string;
  prefix: string;
  concurrency: number;
  cpuProfileDir?: string;
}): Promise<WorkerChild> {
  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...profile,
      '--import',
      'tsx',
      childFile,
      options.kind,
      options.url,
      options.prefix,
      String(options.concurrency),
    ],
    { cwd: repositoryRoot, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<{ at: number; cpuSeconds: number }>((resolve, reject) => {
    child.once('message', (message: { cpuSeconds: number }) =>
      resolve({ at: performance.now(), cpuSeconds: message.cpuSeconds }),
    );
    void exited.then((code) => reject(new Error(`the ${options.kind} worker exited with ${code}`)));
  });
  const { at: startedAt, cpuSeconds: cpuAtStart } = await started;
  return {
    startedAt,
    async close() {
      const report = new Promise<number>((resolve) =>
        child.once('message', (message: { cpuSeconds: number }) => resolve(message.cpuSeconds)),
      );
      child.send('close');
      const code = await exited;
      if (code !== 0) throw new Error(`the ${options.kind} worker exited with ${code}`);
      return (await report) - cpuAtStart;
    },
  };
}

export type Completion = {
  /** When the last job was seen completed (`performance.now()`). */
  endedAt: number;
  /** How many polls it took (the Redis cost deducts them). */
  polls: number;
  /** Jobs completed per second between 10 % and 90 % of them: the rate once started, before the tail. */
  steadyRate: number;
};

/** What the bench's own polling cost Redis, for `redisCostBetween` to deduct. */
export function ownPolling(completion: Completion) {
  return { polls: completion.polls, pollCommand: 'zcard', commandsPerPoll: 2 };
}

/**
 * Polls the queue's completed and failed sets (`ZCARD` of each, one pipeline) every `pollMs` until
 * `expected` jobs completed, noting when a tenth and nine tenths of them were done. A job that failed
 * for good ends the wait at once: the bench does not wait out its timeout for a broken run.
 */
export async function waitForCompleted(
  redis: Redis,
  completedKey: string,
  expected: number,
  timeoutMs: number,
  pollMs = 2,
): Promise<Completion> {
  const failedKey = completedKey.replace(/:completed$/, ':failed');
  const deadline = performance.now() + timeoutMs;
  let polls = 0;
  let tenth: [number, number] | undefined;
  let nineTenths: [number, number] | undefined;
  for (;;) {
    polls += 1;
    const replies = (await redis.pipeline().zcard(completedKey).zcard(failedKey).exec()) ?? [];
    const [completed, failed] = replies.map(([error, count]) => {
      if (error) throw error;
      return Number(count);
    }) as [number, number];
    const now = performance.now();
    if (failed > 0) throw new Error(`${failed} job(s) failed in ${failedKey}: the scenario is broken`);
    if (!tenth && completed >= expected * 0.1) tenth = [now, completed];
    if (!nineTenths && completed >= expected * 0.9) nineTenths = [now, completed];
    if (completed >= expected) {
      const [fromAt, fromCount] = tenth ?? [now, completed];
      const [toAt, toCount] = nineTenths ?? [now, completed];
      const steadyRate = toAt > fromAt ? ((toCount - fromCount) * 1000) / (toAt - fromAt) : Number.NaN;
      return { endedAt: now, polls, steadyRate };
    }
    if (now > deadline)
      throw new Error(`${completed} of ${expected} jobs completed in ${timeoutMs} ms: giving up`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
