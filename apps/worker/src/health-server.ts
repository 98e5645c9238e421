import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@plainloop/config';
import type { Logger } from '@plainloop/telemetry';

/** Whether the worker should be counted on, and if not, why (the `detail` of the 503). */
export type Readiness = { ready: true } | { ready: false; reason: string };

export type HealthServerOptions = {
  host: string;
  /** 0 picks a free port (see `url`). */
  port: number;
  readiness: () => Promise<Readiness>;
  logger: Logger;
  /** A readiness check slower than this counts as not ready: a probe must not hang on a stalled Redis. */
  readinessTimeoutMs?: number;
};

export type HealthServer = {
  /** Where the endpoints are served, e.g. `http://127.0.0.1:9465`. */
  url: string;
  port: number;
  close(): Promise<void>;
};

function send(response: ServerResponse, status: number, type: string, body: unknown) {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

/** The same RFC 9457 problem body the API answers with. */
function sendProblem(response: ServerResponse, status: number, code: string, detail: string) {
  send(response, status, 'application/problem+json', {
    type: `https://plainloop.dev/problems/${code}`,
    title: code,
    status,
    detail,
  });
}

async function readinessWithin(check: () => Promise<Readiness>, timeoutMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Readiness>((resolve) => {
    timer = setTimeout(
      () => resolve({ ready: false, reason: `the readiness check did not finish within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      check().catch(
        (error: unknown): Readiness => ({
          ready: false,
          reason: `the readiness check failed: ${error instanceof Error ? error.message : String(error)}`,
        }),
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The worker's probes, on a plain `node:http` server of their own (the worker serves nothing else):
 * - `GET /healthz`, liveness: 200 while the process serves. It never asks Redis, so an orchestrator does
 *   not restart a whole fleet of healthy workers because Redis is away for a while.
 * - `GET /readyz`, readiness: 200 when `readiness()` says so, else a 503 problem body with the reason.
 * A port already taken stops the process with one line (a `ConfigError`), as a bad setting does.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { logger, readinessTimeoutMs = 2_000 } = options;
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz')
      return sendProblem(response, 404, 'not_found', `no route ${request.method} ${path}`);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return sendProblem(response, 405, 'method_not_allowed', `${path} answers GET and HEAD`);
    }
    if (path === '/healthz') return send(response, 200, 'application/json', { status: 'ok' });
    readinessWithin(options.readiness, readinessTimeoutMs).then((readiness) => {
      if (readiness.ready) send(response, 200, 'application/json', { status: 'ready' });
      else sendProblem(response, 503, 'not_ready', readiness.reason);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const refuse = (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      reject(
        new ConfigError(
          error.code === 'EADDRINUSE'
            ? `the worker's health port ${where} is in use (another worker on this machine?): set PLAINLOOP_WORKER_HEALTH_PORT or --health-port (0 picks a free port)`
            : `cannot serve the worker's health endpoints on ${where}: ${error.message}`,
        ),
      );
    };
    server.once('error', refuse);
    server.listen(options.port, options.host, () => {
      server.off('error', refuse);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'health server error'));
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  logger.info({ url }, 'health server listening: /healthz, /readyz');
  return {
    url,
    port,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A probe's kept-alive connection must not hold the exit up.
        server.closeAllConnections();
      });
    },
  };
}
