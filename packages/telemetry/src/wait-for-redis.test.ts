import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '@plainloop/config';
import { connectRedis } from '@plainloop/redis';
import {
  type RestartableRedis,
  type SilentTcpServer,
  startRestartableRedis,
  startSilentTcpServer,
  waitFor,
} from '@plainloop/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './create-logger.ts';
import { waitForRedis } from './wait-for-redis.ts';

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: createLogger({ service: 'wait-test', level: 'info', destination }) };
}

describe('waitForRedis', () => {
  let redis: RestartableRedis | undefined;
  let silent: SilentTcpServer | undefined;
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
    await silent?.close();
    silent = undefined;
  });

  it('resolves at once when Redis answers, without a warning', async () => {
    redis = await startRestartableRedis();
    const { lines, logger } = capturedLogger();
    expect(await waitForRedis(redis.url, { logger, signal: new AbortController().signal })).toBe(true);
    expect(lines).toEqual([]);
  });

  it('waits for a Redis that comes up later, warning once, and tries often enough to notice soon', async () => {
    redis = await startRestartableRedis();
    await redis.crash();
    const { lines, logger } = capturedLogger();
    const reasons: string[] = [];
    const waited = waitForRedis(redis.url, {
      logger,
      signal: new AbortController().signal,
      onUnreachable: (reason) => reasons.push(reason),
      firstDelayMs: 50,
      maxDelayMs: 200,
    });
    await sleep(2_000);
    await redis.start();
    const up = Date.now();
    expect(await waited).toBe(true);
    expect(Date.now() - up).toBeLessThan(1_000);
    // 50, 100, then 200 ms apart: the cap keeps the attempts coming (doubling on, there would be 6).
    expect(reasons.length).toBeGreaterThanOrEqual(8);
    const warnings = lines.filter((line) => line.msg.includes('is unreachable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe(`Redis at ${redis.url} is unreachable; waiting for it (not ready)`);
    expect(warnings[0]?.reason).toMatch(/ECONNREFUSED/);
    expect(lines.at(-1)?.msg).toBe('Redis answered');
  });

  it('gives up an attempt that gets no answer within its timeout, warns and tries again', async () => {
    // Something accepts on Redis's port and never answers: the connect succeeds, the ready check waits.
    silent = await startSilentTcpServer();
    const { lines, logger } = capturedLogger();
    const stop = new AbortController();
    const reasons: string[] = [];
    const started = Date.now();
    const waited = waitForRedis(silent.url, {
      logger,
      signal: stop.signal,
      onUnreachable: (reason) => reasons.push(reason),
      attemptTimeoutMs: 300,
      firstDelayMs: 50,
      maxDelayMs: 100,
    });
    const warning = `Redis at ${silent.url} is unreachable; waiting for it (not ready)`;
    await waitFor(
      'the warning',
      () => (lines.some((line) => line.msg === warning) ? true : undefined),
      3_000,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    await waitFor('three attempts', () => (reasons.length >= 3 ? true : undefined), 3_000);
    expect(reasons[0]).toBe('no answer within 300 ms');
    expect(silent.accepted()).toBeGreaterThanOrEqual(3);
    // Each attempt's connection is dropped when its time runs out: at most the current one is open.
    expect(silent.open()).toBeLessThanOrEqual(1);
    stop.abort();
    expect(await waited).toBe(false);
    expect(lines.filter((line) => line.msg === warning)).toEqual([
      expect.objectContaining({ reason: 'no answer within 300 ms' }),
    ]);
  });

  it('stops at once with a ConfigError when Redis refuses the credentials, the password blanked', async () => {
    redis = await startRestartableRedis();
    const admin = await connectRedis(redis.url, 'producer');
    await admin.config('SET', 'requirepass', 'the-right-password');
    admin.disconnect();
    const { lines, logger } = capturedLogger();
    const port = new URL(redis.url).port;
    const reasons: string[] = [];
    const attempt = (url: string) =>
      waitForRedis(url, {
        logger,
        signal: new AbortController().signal,
        onUnreachable: (reason) => reasons.push(reason),
      });
    const started = Date.now();
    const wrong = attempt(`redis://:hunter2-wrong@127.0.0.1:${port}`);
    await expect(wrong).rejects.toBeInstanceOf(ConfigError);
    await expect(wrong).rejects.toThrow(
      new RegExp(
        `^Redis at redis://:redacted@127\\.0\\.0\\.1:${port} refused the credentials \\(WRONGPASS [^)]*\\): set the right user and password in REDIS_URL$`,
      ),
    );
    const none = attempt(redis.url);
    await expect(none).rejects.toBeInstanceOf(ConfigError);
    await expect(none).rejects.toThrow(
      /^Redis at redis:\/\/127\.0\.0\.1:\d+ refused the credentials \(NOAUTH /,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(reasons).toEqual([]);
    // A mistake is not an outage: no "waiting for it" line.
    expect(lines).toEqual([]);
  });

  it('keeps waiting for a host name that does not resolve (yet)', async () => {
    const { lines, logger } = capturedLogger();
    const stop = new AbortController();
    const reasons: string[] = [];
    const waited = waitForRedis('redis://plainloop-no-such-host.invalid:6379', {
      logger,
      signal: stop.signal,
      onUnreachable: (reason) => reasons.push(reason),
      firstDelayMs: 50,
      attemptTimeoutMs: 1_000,
    });
    // In an orchestrator a Service's name may resolve only later: a warning and more attempts.
    await waitFor('a second attempt', () => (reasons.length >= 2 ? true : undefined), 5_000);
    expect(reasons[0]).toMatch(/ENOTFOUND|EAI_AGAIN|no answer within/);
    stop.abort();
    expect(await waited).toBe(false);
    expect(lines.filter((line) => line.msg.includes('is unreachable'))).toHaveLength(1);
  });

  it('gives up at once when told to stop', async () => {
    const { logger } = capturedLogger();
    const stop = new AbortController();
    const waited = waitForRedis('redis://127.0.0.1:1', { logger, signal: stop.signal, firstDelayMs: 60_000 });
    await sleep(300);
    const stopping = Date.now();
    stop.abort();
    expect(await waited).toBe(false);
    expect(Date.now() - stopping).toBeLessThan(200);
  });
});
