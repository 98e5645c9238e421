/** What the scenarios share: the machine line, worker child processes, waiting for a queue to drain. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RedisConnection } from '@plainloop/redis';
import type { JobType, Queue } from 'bullmq';
import { createSteadyRateMeter } from './steady-rate.ts';

export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** `figure (target …: met|MISSED)`, the form every scenario prints its figures in. */
export function verdict(met: boolean): string {
  return met ? 'met' : 'MISSED';
}

export async function describeMachine(redis: RedisConnection, redisSource: string): Promise<string> {
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

export type WorkerKind = 'plainloop' | 'raw-bullmq' | 'hand-rolled' | 'minimal-loop' | 'openai-agents';

/** What a worker child tells its parent over IPC, in this order. */
export type WorkerChildMessage =
  /** Its code is loaded: the CPU time that took, for the parent to leave out. */
  | { type: 'loaded'; cpuSeconds: number }
  /** Its worker takes jobs. */
  | { type: 'ready' }
  /**
   * A kind that runs in memory, with no queue for the parent to watch, did all its runs: its own steady
   * rate (runs/s) and its seconds from start to the last run.
   */
  | { type: 'finished'; steadyRate: number; seconds: number }
  /**
   * Its worker closed: its CPU time, peak RSS (sampled every 250 ms), event-loop delay so far and the
   * commands it sent to Redis.
   */
  | {
      type: 'closed';
      cpuSeconds: number;
      peakRssBytes: number;
      eventLoopDelayMs: { p99: number; max: number };
      clientCommands: number;
    };

type WorkerChildReport = {
  /** CPU time (user + system) the process used since `startedAt`, in seconds. */
  cpuSeconds: number;
  peakRssBytes: number;
  eventLoopDelayMs: { p99: number; max: number };
  /** Every command the process sent to Redis, on any connection, start-up and close included. */
  clientCommands: number;
};

export type WorkerChild = {
  /** `performance.now()` in this process when the child said it was starting its worker. */
  startedAt: number;
  /** Resolves once the child's worker takes jobs. */
  ready(): Promise<void>;
  /** Resolves once a child that runs in memory (`openai-agents`) did its `runs`: its own rates. */
  finished(): Promise<{ steadyRate: number; seconds: number }>;
  /** Closes the child's worker and waits for the process to exit (writing its CPU profile, if any). */
  close(): Promise<WorkerChildReport>;
};

const childFile = fileURLToPath(new URL('./worker-child.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** Loading the code (tsx compiling it) and connecting take a second or two; a busy machine, more. */
const startTimeoutMs = 60_000;
/** A worker closes once its active runs reach their next checkpoint; past this, the child is killed. */
const closeTimeoutMs = 120_000;
/** As long as the bench waits for a queue to drain. */
const finishTimeoutMs = 600_000;

/** `promise`, or a rejection naming `what` after `timeoutMs`: no wait of the bench may hang. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts a worker of `kind` in its own Node process, so the worker has an event loop to itself (the
 * bench process polls Redis and keeps figures) and can be profiled on its own (`cpuProfileDir`).
 * `modelLatencyMs` makes the plainloop worker's model wait that long before each answer; `runs` is how
 * many runs a kind that runs in memory does (it has no queue to take them from).
 */
export async function startWorkerChild(options: {
  kind: WorkerKind;
  url: string;
  prefix: string;
  concurrency: number;
  modelLatencyMs?: number;
  cpuProfileDir?: string;
  /** V8's old-space limit for the child, as a container's memory limit would set it. */
  maxOldSpaceMib?: number;
  runs?: number;
}): Promise<WorkerChild> {
  const profile = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const heap = options.maxOldSpaceMib ? [`--max-old-space-size=${options.maxOldSpaceMib}`] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...profile,
      ...heap,
      '--import',
      'tsx',
      childFile,
      options.kind,
      options.url,
      options.prefix,
      String(options.concurrency),
      String(options.modelLatencyMs ?? 0),
      String(options.runs ?? 0),
    ],
    { cwd: repositoryRoot, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const what = `the ${options.kind} worker (pid ${child.pid})`;
  // 'close', not 'exit': it comes after the IPC channel has delivered the child's last message.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // Each message is kept until someone asks for it, however early it came; an exit fails every wait.
  const waiting = new Map<WorkerChildMessage['type'], (message: WorkerChildMessage) => void>();
  const received = new Map<WorkerChildMessage['type'], Promise<WorkerChildMessage>>();
  for (const type of ['loaded', 'ready', 'finished', 'closed'] as const) {
    const message = new Promise<WorkerChildMessage>((resolve, reject) => {
      waiting.set(type, resolve);
      void exited.then((code) => reject(new Error(`${what} exited with ${code}`)));
    });
    // Unasked-for messages that an exit rejects are not unhandled rejections.
    message.catch(() => undefined);
    received.set(type, message);
  }
  child.on('message', (message: WorkerChildMessage) => waiting.get(message.type)?.(message));
  const messageOf = async <Type extends WorkerChildMessage['type']>(type: Type, timeoutMs: number) => {
    try {
      const message = await within(received.get(type) as Promise<WorkerChildMessage>, timeoutMs, what);
      return message as Extract<WorkerChildMessage, { type: Type }>;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  };
  const { cpuSeconds: cpuAtStart } = await messageOf('loaded', startTimeoutMs);
  const startedAt = performance.now();
  return {
    startedAt,
    async ready() {
      await messageOf('ready', startTimeoutMs);
    },
    async finished() {
      const { steadyRate, seconds } = await messageOf('finished', finishTimeoutMs);
      return { steadyRate, seconds };
    },
    async close() {
      if (child.connected) child.send('close', () => undefined);
      const report = await messageOf('closed', closeTimeoutMs);
      const code = await within(exited, closeTimeoutMs, what);
      if (code !== 0) throw new Error(`${what} exited with ${code}`);
      return {
        cpuSeconds: report.cpuSeconds - cpuAtStart,
        peakRssBytes: report.peakRssBytes,
        eventLoopDelayMs: report.eventLoopDelayMs,
        clientCommands: report.clientCommands,
      };
    },
  };
}

/**
 * Closes every child, whatever becomes of the others. The caller throws the first failure
 * (`throwFirstFailure`) only once its own work went well: a failure to close must not hide an earlier error.
 */
export function closeChildren(children: readonly WorkerChild[]): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(children.map((child) => child.close()));
}

export function throwFirstFailure(results: readonly PromiseSettledResult<unknown>[]): void {
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
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
 * Polls `countsOf` every `pollMs` until `expected` jobs completed, noting when a tenth and nine tenths
 * of them were done. A job that failed for good ends the wait at once: the bench does not wait out its
 * timeout for a broken run.
 */
async function waitForCounts(
  countsOf: () => Promise<{ completed: number; failed: number }>,
  expected: number,
  timeoutMs: number,
  pollMs: number,
): Promise<Completion> {
  const deadline = performance.now() + timeoutMs;
  let polls = 0;
  const steady = createSteadyRateMeter(expected);
  for (;;) {
    polls += 1;
    const { completed, failed } = await countsOf();
    const now = performance.now();
    if (failed > 0) throw new Error(`${failed} job(s) failed: the scenario is broken`);
    steady.observe(now, completed);
    if (completed >= expected) return { endedAt: now, polls, steadyRate: steady.rate() };
    if (now > deadline)
      throw new Error(`${completed} of ${expected} jobs completed in ${timeoutMs} ms: giving up`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Waits for `expected` completed jobs by polling the queue's completed and failed sets (`ZCARD` of
 * each, one pipeline) every `pollMs` (see `waitForCounts`).
 */
export async function waitForCompleted(
  redis: RedisConnection,
  completedKey: string,
  expected: number,
  timeoutMs: number,
  pollMs = 2,
): Promise<Completion> {
  const failedKey = completedKey.replace(/:completed$/, ':failed');
  const countsOf = async () => {
    const replies = (await redis.pipeline().zcard(completedKey).zcard(failedKey).exec()) ?? [];
    const [completed, failed] = replies.map(([error, count]) => {
      if (error) throw error;
      return Number(count);
    }) as [number, number];
    return { completed, failed };
  };
  return waitForCounts(countsOf, expected, timeoutMs, pollMs);
}

/**
 * Waits for the `expected` jobs of a queue that held only them to be done, counting what is left to
 * do (waiting, active, delayed...) with BullMQ's `getJobCounts`, one script a poll. Unlike
 * `waitForCompleted` it holds past 10,000 runs: run jobs are removed from the completed set past that
 * count (`removeOnComplete` in `runJobOptions`).
 */
export async function waitForQueueDone(
  queue: Queue,
  expected: number,
  timeoutMs: number,
  pollMs = 10,
): Promise<Completion> {
  // A paused queue keeps its jobs in the wait list (BullMQ 5 and later).
  const pendingStates: JobType[] = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children'];
  const countsOf = async () => {
    const counts = await queue.getJobCounts(...pendingStates, 'failed');
    const failed = counts.failed ?? 0;
    const pending = pendingStates.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
    return { completed: expected - pending - failed, failed };
  };
  return waitForCounts(countsOf, expected, timeoutMs, pollMs);
}
