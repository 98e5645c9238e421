import { createServer } from 'node:net';
import { ConfigError } from '@plainloop/config';
import { createLogger } from '@plainloop/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, type Readiness, startHealthServer } from './health-server.ts';

const logger = createLogger({ service: 'health-test', level: 'silent' });

describe('the worker health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(readiness: () => Promise<Readiness>, readinessTimeoutMs?: number) {
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      readiness,
      logger,
      ...(readinessTimeoutMs ? { readinessTimeoutMs } : {}),
    });
    return server.url;
  }

  it('answers liveness without asking readiness, and readiness as it is told', async () => {
    let current: Readiness = { ready: false, reason: 'Redis is unreachable; waiting for it' };
    let asked = 0;
    const url = await serve(async () => {
      asked += 1;
      return current;
    });
    expect(url).toBe(`http://127.0.0.1:${server?.port}`);

    const live = await fetch(`${url}/healthz`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toBe('application/json');
    expect(await live.json()).toEqual({ status: 'ok' });
    expect(asked).toBe(0);

    const waiting = await fetch(`${url}/readyz`);
    expect(waiting.status).toBe(503);
    expect(waiting.headers.get('content-type')).toBe('application/problem+json');
    expect(await waiting.json()).toEqual({
      type: 'https://plainloop.dev/problems/not_ready',
      title: 'not_ready',
      status: 503,
      detail: 'Redis is unreachable; waiting for it',
    });

    current = { ready: true };
    const ready = await fetch(`${url}/readyz?verbose=1`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(asked).toBe(2);
  });

  it('counts a readiness check that throws or hangs as not ready, with why', async () => {
    let check: () => Promise<Readiness> = () => Promise.reject(new Error('bug in the check'));
    const url = await serve(() => check(), 200);
    const failed = await fetch(`${url}/readyz`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ detail: 'the readiness check failed: bug in the check' });

    check = () => new Promise(() => {});
    const started = Date.now();
    const hung = await fetch(`${url}/readyz`);
    expect(hung.status).toBe(503);
    expect(await hung.json()).toMatchObject({
      detail: 'the readiness check did not finish within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('answers other paths 404 and other methods 405, as problem bodies', async () => {
    const url = await serve(async () => ({ ready: true }));
    const missing = await fetch(`${url}/metrics`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ title: 'not_found', status: 404 });
    const posted = await fetch(`${url}/readyz`, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('refuses a port that is taken with one line saying what to set', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const attempt = startHealthServer({
        host: '127.0.0.1',
        port,
        readiness: async () => ({ ready: true }),
        logger,
      });
      await expect(attempt).rejects.toThrow(ConfigError);
      await expect(attempt).rejects.toThrow(
        `the worker's health port 127.0.0.1:${port} is in use (another worker on this machine?): set PLAINLOOP_WORKER_HEALTH_PORT or --health-port (0 picks a free port)`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('stops answering once closed', async () => {
    const url = await serve(async () => ({ ready: true }));
    // A kept-alive connection of a probe must not hold the close up.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await server?.close();
    server = undefined;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
