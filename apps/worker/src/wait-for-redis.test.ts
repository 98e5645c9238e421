import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@plainloop/telemetry';
import { type RestartableRedis, startRestartableRedis } from '@plainloop/testing';
import { afterEach, describe, expect, it } from 'vitest';
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
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
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
