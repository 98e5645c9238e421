import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AgentManifest,
  isTerminalStatus,
  PlainloopError,
  type RunLimits,
  type RunRequestInput,
  type RunWebhook,
} from '@plainloop/contracts';
import type {
  ApprovalReply,
  CancelReply,
  CreatedRun,
  ForkedRun,
  Run,
  RunFilters,
  RunListItem,
  RunPage,
  RunTimeline,
  StreamedEvent,
  WebhookSecretReply,
} from './api-replies.ts';
import { HttpTransport } from './http-transport.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { type EventStreamOptions, followRunEvents } from './run-event-stream.ts';

export type PlainloopClientOptions = {
  /** Where the API listens, e.g. `https://plainloop.internal` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; leave it out only for an API started with `--insecure`. */
  apiKey?: string | undefined;
  /** The fetch to use (a proxy agent, a test double); the global one by default. */
  fetch?: typeof fetch;
  /** How long one request may take (30 s by default); for an event stream, until its headers arrive. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
};

export type RequestOptions = { signal?: AbortSignal | undefined };

export type CreateRunOptions = RequestOptions & {
  /**
   * The same key again gives the same run (`replayed: true`), so a request that may have been lost
   * can be sent again; only a request with a key is retried by the client itself. Sent as the
   * `Idempotency-Key` header; the request's own `idempotencyKey` does the same (the API refuses the
   * two when they differ).
   */
  idempotencyKey?: string | undefined;
};

export type ForkOptions = RequestOptions & {
  /** How many of the source's completed steps the fork replays from its record (no model or tool call). */
  fromStep: number;
  /** Model chains (`provider:model`) that replace the agent's for the fork, by tier. */
  models?: { plan?: string[]; execute?: string[] };
  idempotencyKey?: string | undefined;
  limits?: RunLimits;
  webhook?: RunWebhook;
};

export type WaitOptions = RequestOptions & {
  /** Give up after this long with a `wait_timeout` error (the run goes on). */
  timeoutMs?: number;
  /** Each event of the run as it happens (from its first, for a run still going). */
  onEvent?: (streamed: StreamedEvent) => void;
  /** How often the run itself is looked at, in case its `run.finished` event was lost (10 s). */
  pollIntervalMs?: number;
};

const runPath = (runId: string, rest = '') => `/v1/runs/${encodeURIComponent(runId)}${rest}`;

/**
 * The plainloop API for Node backends: start runs, read them, follow their events, wait for them,
 * cancel, approve and fork them. Every failure is a `PlainloopApiError`. Requests that may be sent
 * twice (reads, and runs or forks with an idempotency key) are retried on 429, 5xx and network
 * failures; any other POST is sent once, so a lost answer never makes a second run.
 */
export class PlainloopClient {
  readonly #http: HttpTransport;

  constructor(options: PlainloopClientOptions) {
    this.#http = new HttpTransport({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: { ...defaultRetryPolicy, ...options.retry },
    });
  }

  /** `POST /v1/runs`: queues a run. The agent and its input are checked first (422 when they do not fit). */
  async createRun(request: RunRequestInput, options: CreateRunOptions = {}): Promise<CreatedRun> {
    const idempotencyKey = options.idempotencyKey ?? request.idempotencyKey;
    const reply = await this.#http.json<{ runId: string; status: CreatedRun['status'] }>({
      method: 'POST',
      path: '/v1/runs',
      body: request,
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
      repeatable: idempotencyKey !== undefined,
      signal: options.signal,
    });
    return {
      runId: reply.body.runId,
      status: reply.body.status,
      replayed: reply.headers.get('idempotent-replayed') === 'true',
    };
  }

  async getRun(runId: string, options: RequestOptions = {}): Promise<Run> {
    return (await this.#get<Run>(runPath(runId), {}, options)).body;
  }

  /** One page of the tenant's runs, newest first; a filtered page may be short with a cursor to follow. */
  async listRuns(
    filters: RunFilters & { cursor?: string } = {},
    options: RequestOptions = {},
  ): Promise<RunPage> {
    return (await this.#get<RunPage>('/v1/runs', filters, options)).body;
  }

  /** Every run that fits the filters, newest first, following the cursor page after page. */
  async *runs(filters: RunFilters = {}, options: RequestOptions = {}): AsyncGenerator<RunListItem> {
    let cursor: string | undefined;
    do {
      const page = await this.listRuns({ ...filters, ...(cursor === undefined ? {} : { cursor }) }, options);
      yield* page.runs;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** The run's timeline: per step its tier, model calls (tokens, cost, latency) and tool calls. */
  async steps(runId: string, options: RequestOptions = {}): Promise<RunTimeline> {
    return (await this.#get<RunTimeline>(runPath(runId, '/steps'), {}, options)).body;
  }

  /**
   * The run's events, from the first (or after `lastEventId`) until `run.finished`, reconnecting with
   * `Last-Event-ID` when the connection drops. Aborting `signal` ends the iteration.
   */
  events(runId: string, options: EventStreamOptions = {}): AsyncGenerator<StreamedEvent> {
    return followRunEvents(this.#http, runId, options);
  }

  /** The run once it has ended (at once for a run that already has), following its events meanwhile. */
  async waitForRun(runId: string, options: WaitOptions = {}): Promise<Run> {
    const deadline = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const ended = new AbortController();
    const signal = AbortSignal.any(
      [ended.signal, options.signal, deadline].filter((each): each is AbortSignal => each !== undefined),
    );
    try {
      const current = await this.getRun(runId, { signal });
      if (isTerminalStatus(current.status)) return current;
      this.#watchForEnd(runId, options.pollIntervalMs ?? 10_000, signal).then(
        () => ended.abort(),
        () => {},
      );
      for await (const streamed of this.events(runId, { signal })) options.onEvent?.(streamed);
      options.signal?.throwIfAborted();
      if (deadline?.aborted) throw waitTimeout(runId, options.timeoutMs);
      return await this.getRun(runId, { signal: options.signal });
    } catch (error) {
      if (deadline?.aborted && !options.signal?.aborted) throw waitTimeout(runId, options.timeoutMs);
      throw error;
    } finally {
      ended.abort();
    }
  }

  /** Looks at the run now and then: the end of a run whose `run.finished` event was lost still shows. */
  async #watchForEnd(runId: string, intervalMs: number, signal: AbortSignal): Promise<void> {
    while (true) {
      await sleep(intervalMs, undefined, { signal });
      const run = await this.getRun(runId, { signal }).catch(() => undefined);
      if (run && isTerminalStatus(run.status)) return;
    }
  }

  /** Ends a queued or waiting run at once; a running one is stopped by its worker within moments. */
  async cancel(runId: string, reason?: string, options: RequestOptions = {}): Promise<CancelReply> {
    return (
      await this.#http.json<CancelReply>({
        method: 'POST',
        path: runPath(runId, '/cancel'),
        body: reason === undefined ? {} : { reason },
        repeatable: false,
        signal: options.signal,
      })
    ).body;
  }

  /** A person's decision on a tool call that waits for approval; each call is decided once. */
  async approve(
    runId: string,
    callId: string,
    decision: { approved: boolean; comment?: string | undefined },
    options: RequestOptions = {},
  ): Promise<ApprovalReply> {
    return (
      await this.#http.json<ApprovalReply>({
        method: 'POST',
        path: runPath(runId, '/approve'),
        body: {
          callId,
          approved: decision.approved,
          ...(decision.comment === undefined ? {} : { comment: decision.comment }),
        },
        repeatable: false,
        signal: options.signal,
      })
    ).body;
  }

  /**
   * A new run that replays the source's first `fromStep` completed steps from its record and goes
   * on from there, with other models if given: to try a different model on the same situation.
   */
  async fork(runId: string, fork: ForkOptions): Promise<ForkedRun> {
    const { signal, idempotencyKey, ...rest } = fork;
    const reply = await this.#http.json<Omit<ForkedRun, 'replayed'>>({
      method: 'POST',
      path: runPath(runId, '/fork'),
      body: { ...rest, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) },
      headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
      repeatable: idempotencyKey !== undefined,
      signal,
    });
    return { ...reply.body, replayed: reply.headers.get('idempotent-replayed') === 'true' };
  }

  /** The agents the workers published: input schema, tools, models, limits. */
  async agents(options: RequestOptions = {}): Promise<AgentManifest[]> {
    return (await this.#get<{ agents: AgentManifest[] }>('/v1/agents', {}, options)).body.agents;
  }

  /**
   * The secret your receivers verify this tenant's webhooks with (`verifyWebhook`): the tenant's own,
   * derived from the deployment's, so it verifies no other tenant's deliveries.
   */
  async webhookSecret(options: RequestOptions = {}): Promise<WebhookSecretReply> {
    return (await this.#get<WebhookSecretReply>('/v1/webhook-secret', {}, options)).body;
  }

  #get<T>(path: string, query: Record<string, string | number | undefined>, options: RequestOptions) {
    return this.#http.json<T>({ method: 'GET', path, query, repeatable: true, signal: options.signal });
  }
}

function waitTimeout(runId: string, timeoutMs: number | undefined): PlainloopError {
  return new PlainloopError('wait_timeout', `run ${runId} did not end within ${timeoutMs} ms; it goes on`, {
    retryable: true,
  });
}
