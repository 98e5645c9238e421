import { spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, startPrivateRedisServer } from '@plainloop/redis';
import { startSilentTcpServer, waitFor } from '@plainloop/testing';
import { describe, expect, it } from 'vitest';
import { bin, runPlainloop } from './test-fixtures/plainloop-command.ts';

/** Runs the real `plainloop` command, as `npx plainloop` and `npm start` do. */
const plainloop = (args: string[], environment: NodeJS.ProcessEnv, timeoutMs = 60_000) =>
  runPlainloop(args, environment, { timeoutMs });

/** A fresh machine: no REDIS_URL, no API key, only PATH. */
const fresh: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };

/** Starts a process that must wait for Redis, and sends it SIGTERM once it says it waits. */
function waitingThenStopped(args: string[], environment: NodeJS.ProcessEnv) {
  return runPlainloop(args, environment, { timeoutMs: 20_000, terminateOn: 'waiting for it' });
}

describe('plainloop demo', () => {
  it('starts its own Redis, runs the example agents offline, prints the summary and exits 0', async () => {
    const { code, stdout, stderr } = await plainloop(['demo'], fresh, 120_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('REDIS_URL is unset, so a private redis-server runs on redis://127.0.0.1:');
    expect(stdout).toContain('No OPENAI_API_KEY');
    expect(stdout).toMatch(
      /run\s+agent\s+status\s+steps\s+tokens in\s+tokens out\s+cost \(USD\)\s+latency\s+model/,
    );
    expect(stdout.match(/^(research|lead)-\d\s+\S+\s+succeeded\s+\d+/gm)).toHaveLength(5);
    expect(stdout).toContain('scripted:research-plan, scripted:research-execute *');
    expect(stdout).toMatch(
      /^Webhook: research-1 ended succeeded; its result reached http:\/\/127\.0\.0\.1:\d+\/plainloop-webhook, signature verified\.$/m,
    );
    expect(stdout).toMatch(
      /^Forked research-1 from step 2 with POST \/v1\/runs\/:id\/fork: run_\w+ succeeded\.$/m,
    );
    expect(stdout).toMatch(/^ {2}1 new step for \$0\.\d+: source \$0\.\d+ in all, fork \$0\.\d+\.$/m);
    expect(stdout).toContain('All 5 runs succeeded.');
  }, 150_000);
});

describe('plainloop errors', { timeout: 60_000 }, () => {
  it('says in one line what to install when there is no Redis to be had', async () => {
    const { code, stdout, stderr } = await plainloop(['demo'], { PATH: '/nonexistent' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^plainloop: redis-server was not found: install Redis .* or set REDIS_URL\n$/);
    expect(stdout).not.toContain('Enqueued');
  });

  it('keeps a worker without Redis waiting (one warning, password blanked) and lets SIGTERM end it at once', async () => {
    const child = spawn(process.execPath, [bin, 'worker'], {
      env: { ...fresh, REDIS_URL: 'redis://:hunter2@127.0.0.1:1', PLAINLOOP_WORKER_HEALTH_PORT: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const warning = 'Redis at redis://:redacted@127.0.0.1:1 is unreachable; waiting for it (not ready)';
      await waitFor('the warning', () => (stdout.includes(warning) ? true : undefined), 30_000);
      // In an orchestrated fleet Redis may come later: the worker stays up, trying again, saying it once.
      await sleep(1_500);
      expect(child.exitCode).toBeNull();
      expect(stdout.split(warning)).toHaveLength(2);
      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(3_000);
      expect(stderr).toBe('');
      expect(stdout).not.toContain('hunter2');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('still refuses a worker configuration mistake in one line at once, Redis or not', async () => {
    const unreachable = { ...fresh, REDIS_URL: 'redis://127.0.0.1:1', PLAINLOOP_WORKER_HEALTH_PORT: '0' };
    const missing = await plainloop(['worker', '--agents', '/nonexistent/agents.ts'], unreachable);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('plainloop: no agents module at /nonexistent/agents.ts\n');
    const badSecret = await plainloop(['worker'], { ...unreachable, PLAINLOOP_WEBHOOK_SECRET: 'hunter2' });
    expect(badSecret.code).toBe(1);
    expect(badSecret.stderr).toMatch(/^plainloop: PLAINLOOP_WEBHOOK_SECRET must be whsec_ followed by .*\n$/);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const clash = await plainloop(['worker', '--health-port', String(port)], unreachable);
      expect(clash.code).toBe(1);
      expect(clash.stderr).toBe(
        `plainloop: the worker's health port 127.0.0.1:${port} is in use (another worker on this machine?): set PLAINLOOP_WORKER_HEALTH_PORT or --health-port (0 picks a free port)\n`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('stops a worker whose Redis credentials are refused in one line at once, the password blanked', async () => {
    const server = await startPrivateRedisServer();
    try {
      const admin = await connectRedis(server.url, 'producer');
      await admin.config('SET', 'requirepass', 'the-right-password');
      admin.disconnect();
      const where = `127.0.0.1:${server.port}`;
      const wrong = await plainloop(
        ['worker'],
        { ...fresh, REDIS_URL: `redis://:hunter2-wrong@${where}`, PLAINLOOP_WORKER_HEALTH_PORT: '0' },
        20_000,
      );
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(
        new RegExp(
          `^plainloop: Redis at redis://:redacted@${where} refused the credentials \\(WRONGPASS [^\n]*\\): set the right user and password in REDIS_URL\n$`,
        ),
      );
      // A mistake, not an outage: the worker does not wait for it to mend.
      expect(wrong.stdout).not.toContain('waiting for it');
      expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('hunter2');
      const none = await plainloop(
        ['worker'],
        { ...fresh, REDIS_URL: `redis://${where}`, PLAINLOOP_WORKER_HEALTH_PORT: '0' },
        20_000,
      );
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^plainloop: Redis at \S+ refused the credentials \(NOAUTH [^\n]*\n$/);
    } finally {
      await server.stop();
    }
  });

  it('keeps the api and metrics waiting for a Redis that accepts connections but never answers, and exits 0 on SIGTERM', async () => {
    const silent = await startSilentTcpServer();
    try {
      const environment = { ...fresh, REDIS_URL: silent.url };
      // An orchestrator may start Redis last: each says once that it waits, instead of exiting.
      const [api, metrics] = await Promise.all([
        waitingThenStopped(['api', '--insecure'], environment),
        waitingThenStopped(['metrics', '--port', '0'], environment),
      ]);
      for (const stopped of [api, metrics]) {
        expect(stopped.code).toBe(0);
        expect(stopped.stdout).toContain(
          `"reason":"no answer within 3000 ms","msg":"Redis at ${silent.url} is unreachable; waiting for it (not ready)"`,
        );
      }
    } finally {
      await silent.close();
    }
  });

  it('rejects an unknown command or flag in one line, exit code 2', async () => {
    const unknown = await plainloop(['deploy'], fresh);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('plainloop: unknown command "deploy"; run plainloop help\n');
    const badFlag = await plainloop(['api', '--prot', '80'], fresh);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr.split('\n')).toHaveLength(2);
  });

  it('will not serve the API without keys unless told it is for local use, and says so in one line', async () => {
    const { code, stderr } = await plainloop(['api'], { ...fresh, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^plainloop: no API keys: set PLAINLOOP_API_KEYS .*--insecure for local use only\n$/,
    );
    const short = await plainloop(['api'], { ...fresh, PLAINLOOP_API_KEYS: 'acme:short' });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^plainloop: PLAINLOOP_API_KEYS: each entry is tenant:key.*\n$/);
    expect(short.stderr).not.toContain('short\n');
    // With --insecure it gets past the keys: the next thing it needs is Redis, which it waits for.
    const insecure = await waitingThenStopped(['api', '--insecure'], {
      ...fresh,
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toContain('is unreachable; waiting for it (not ready)');
  });

  it('will not serve the API with a malformed webhook secret, and says so in one line', async () => {
    const { code, stderr } = await plainloop(['api'], {
      ...fresh,
      PLAINLOOP_API_KEYS: 'acme:a-key-of-sixteen-chars',
      PLAINLOOP_WEBHOOK_SECRET: 'hunter2',
      // Checked before Redis: a Redis that cannot be reached must not be what it reports.
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^plainloop: PLAINLOOP_WEBHOOK_SECRET must be whsec_ followed by .*\n$/);
    expect(stderr).not.toContain('hunter2');
  });

  it('names a bad environment variable in one line', async () => {
    const { code, stderr } = await plainloop(['api'], { ...fresh, PORT: 'eighty' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^plainloop: invalid environment: PORT: .*\n$/);
  });

  it('shows the usage', async () => {
    const { code, stdout } = await plainloop(['help'], fresh);
    expect(code).toBe(0);
    expect(stdout).toContain('plainloop worker [--agents <path>] [--concurrency <n>]');
  });
});
