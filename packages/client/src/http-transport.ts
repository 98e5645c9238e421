import { setTimeout as sleep } from 'node:timers/promises';
import { PlainloopApiError } from './plainloop-api-error.ts';
import { parseRetryAfter, type RetryPolicy, retryDelayMs } from './retry-policy.ts';

export type TransportOptions = {
  baseUrl: string;
  apiKey: string | undefined;
  fetch: typeof fetch;
  /** How long a request may take; for an event stream, how long until its headers arrive. */
  timeoutMs: number;
  retry: RetryPolicy;
};

export type RequestSpec = {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Whether sending it twice is harmless (a GET, a POST with an idempotency key): only then is it retried. */
  repeatable: boolean;
  signal?: AbortSignal | undefined;
};

export type JsonReply<T> = { status: number; headers: Headers; body: T };

/** The reason a fetch failed without an answer, as short as the platform allows (ECONNREFUSED, ENOTFOUND). */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The API's problem body (or whatever else answered) as an error. */
async function problemOf(response: Response): Promise<PlainloopApiError> {
  const text = await response.text().catch(() => '');
  let problem: { title?: unknown; detail?: unknown; message?: unknown; errors?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') problem = parsed;
  } catch {
    // Not a problem body: a proxy's page, say. Its text is the detail.
  }
  const code =
    typeof problem.title === 'string' && /^[a-z][a-z0-9_]*$/.test(problem.title)
      ? problem.title
      : `http_${response.status}`;
  const detail =
    typeof problem.detail === 'string'
      ? problem.detail
      : typeof problem.message === 'string'
        ? problem.message
        : text.slice(0, 200) || response.statusText || `the API answered ${response.status}`;
  const errors = Array.isArray(problem.errors)
    ? problem.errors.filter((each): each is string => typeof each === 'string').map(oneLine)
    : undefined;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  return new PlainloopApiError({
    status: response.status,
    code,
    detail: oneLine(detail),
    ...(errors ? { errors } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** A response whose body is still to be read, and the means to drop its connection. */
export type OpenResponse = { response: Response; connection: AbortController };

/**
 * HTTP to the plainloop API over `fetch`: the key on every request, a timeout, problem bodies and
 * network failures turned into `PlainloopApiError`, and retries of repeatable requests only.
 */
export class HttpTransport {
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  get retry(): RetryPolicy {
    return this.#options.retry;
  }

  /** Sends a request and reads its JSON answer, retrying what may be repeated. */
  async json<T>(spec: RequestSpec): Promise<JsonReply<T>> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#jsonOnce<T>(spec);
      } catch (error) {
        const retryable = error instanceof PlainloopApiError && error.retryable && spec.repeatable;
        if (!retryable || attempt >= this.#options.retry.requests) throw error;
        const delay = retryDelayMs(this.#options.retry, attempt, error.retryAfterMs);
        if (delay === undefined) throw error;
        await sleep(delay, undefined, spec.signal ? { signal: spec.signal } : {});
      }
    }
  }

  async #jsonOnce<T>(spec: RequestSpec): Promise<JsonReply<T>> {
    const { response, connection } = await this.open(spec, { timeoutCoversBody: true });
    try {
      const text = await this.#guard(spec, connection, () => response.text());
      try {
        return { status: response.status, headers: response.headers, body: JSON.parse(text) as T };
      } catch {
        throw new PlainloopApiError({
          status: response.status,
          code: 'unexpected_response',
          detail: `${spec.method} ${spec.path} did not answer JSON: is ${this.#options.baseUrl} a plainloop API?`,
        });
      }
    } finally {
      connection.abort();
    }
  }

  /**
   * Sends a request and returns the response once its headers arrive; a status other than 2xx is
   * thrown as the problem it carries. With `timeoutCoversBody` the timeout runs on until the caller
   * drops the connection; without it (an event stream), it stops at the headers.
   */
  async open(
    spec: RequestSpec,
    { timeoutCoversBody }: { timeoutCoversBody: boolean },
  ): Promise<OpenResponse> {
    spec.signal?.throwIfAborted();
    const connection = new AbortController();
    const timer = setTimeout(
      () => connection.abort(new TimeoutMarker(this.#options.timeoutMs)),
      this.#options.timeoutMs,
    );
    const onAbort = () => connection.abort(spec.signal?.reason);
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    connection.signal.addEventListener(
      'abort',
      () => {
        spec.signal?.removeEventListener('abort', onAbort);
        clearTimeout(timer);
      },
      { once: true },
    );
    const response = await this.#guard(spec, connection, () =>
      this.#options.fetch(this.#urlOf(spec), {
        method: spec.method,
        headers: this.#headersOf(spec),
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        signal: connection.signal,
      }),
    );
    if (!timeoutCoversBody) clearTimeout(timer);
    if (!response.ok) {
      const problem = await problemOf(response);
      connection.abort();
      throw problem;
    }
    return { response, connection };
  }

  /** Runs a step of a request, turning a failure without an answer into a `PlainloopApiError`. */
  async #guard<T>(spec: RequestSpec, connection: AbortController, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      connection.abort();
      if (error instanceof PlainloopApiError) throw error;
      // The caller's own abort is theirs to handle: it is rethrown as it came.
      if (spec.signal?.aborted) throw spec.signal.reason;
      const origin = this.#options.baseUrl;
      if (connection.signal.reason instanceof TimeoutMarker)
        throw new PlainloopApiError({
          status: 0,
          code: 'timeout',
          detail: `${spec.method} ${spec.path} got no answer from ${origin} within ${this.#options.timeoutMs} ms`,
          cause: error,
        });
      throw new PlainloopApiError({
        status: 0,
        code: 'unreachable',
        detail: `cannot reach the plainloop API at ${origin} (${reasonOf(error)})`,
        cause: error,
      });
    }
  }

  #urlOf(spec: RequestSpec): string {
    const url = new URL(`${this.#options.baseUrl}${spec.path}`);
    for (const [name, value] of Object.entries(spec.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  #headersOf(spec: RequestSpec): Record<string, string> {
    return {
      accept: 'application/json',
      ...(this.#options.apiKey ? { authorization: `Bearer ${this.#options.apiKey}` } : {}),
      ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...spec.headers,
    };
  }
}

/** The abort reason of a request that ran out of time, told apart from the caller's own abort. */
class TimeoutMarker extends Error {
  constructor(timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}
