import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisUnavailableError } from './errors/redis-unavailable-error.ts';

export type PrivateRedisServer = {
  url: string;
  port: number;
  stop(): Promise<void>;
};

const notInstalled =
  'redis-server was not found: install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address for a free port');
  return address.port;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Default settings of a throwaway server: nothing persisted. */
const ephemeral = ['--save', '', '--appendonly', 'no'];

/**
 * Starts a redis-server on 127.0.0.1:`port` with its files in `directory`, and waits until it answers.
 * `settings` replace the throwaway defaults (a test of persistence passes `--appendonly yes`).
 */
export async function launchRedisServer(
  binary: string,
  directory: string,
  port: number,
  settings: readonly string[] = ephemeral,
): Promise<ChildProcess | 'port-taken'> {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, ...settings],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk.toString();
  });
  const exited = new Promise<NodeJS.ErrnoException | number>((resolve) => {
    child.once('error', (error) => resolve(error));
    child.once('exit', (code) => resolve(code ?? 1));
  });
  for (let waited = 0; waited < 10_000; waited += 50) {
    const ended = await Promise.race([exited, sleep(50).then(() => undefined)]);
    if (ended instanceof Error) {
      if (ended.code === 'ENOENT') throw new RedisUnavailableError(notInstalled, ended);
      throw new RedisUnavailableError(`redis-server could not start: ${ended.message}`, ended);
    }
    if (typeof ended === 'number') {
      if (/address already in use/i.test(output)) return 'port-taken';
      throw new RedisUnavailableError(
        `redis-server exited with code ${ended}: ${output.trim().split('\n').pop()}`,
      );
    }
    if (await answersPing(port)) return child;
  }
  child.kill('SIGKILL');
  throw new RedisUnavailableError('redis-server did not answer within 10 seconds');
}

/**
 * Starts a redis-server of our own: a temporary directory, a free port on 127.0.0.1, no persistence.
 * Used by the demo and the tests when REDIS_URL is unset. `stop()` shuts it down and removes the
 * directory; the server is also killed if this process exits first.
 */
export async function startPrivateRedisServer(binary = 'redis-server'): Promise<PrivateRedisServer> {
  const directory = await mkdtemp(join(tmpdir(), 'plainloop-redis-'));
  try {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const port = await freePort();
      const child = await launchRedisServer(binary, directory, port);
      if (child === 'port-taken') continue;
      const killOnExit = () => child.kill('SIGKILL');
      process.once('exit', killOnExit);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async stop() {
          process.removeListener('exit', killOnExit);
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
          }
          await rm(directory, { recursive: true, force: true });
        },
      };
    }
    throw new RedisUnavailableError('no free port for redis-server after 5 attempts');
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
}
