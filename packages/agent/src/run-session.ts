import type { Message, RunEvent, RunState } from '@plainloop/contracts';
import type { RecalledItem } from '@plainloop/memory';
import { type CheckpointOptions, RunFencedError } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import type { RunEnvironment } from './run-environment.ts';

/** Events that mean something went wrong: logged at `warn`, the rest at `info`. */
const warningEvents = new Set<RunEvent['type']>([
  'llm.failed',
  'tool.failed',
  'tool.disabled',
  'breaker.opened',
  'budget.exceeded',
]);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a log line adds to an event; a function when it is costly to build (payloads). */
type LogDetail = Record<string, unknown> | (() => Record<string, unknown>);

export type RunEventDraft = DistributiveOmit<RunEvent, 'runId' | 'tenantId' | 'agent' | 'at'>;

/**
 * One worker's hold on one run: the state as last written, the transcript, and the only way to change
 * them. Writes are serialised (tool results that land together are written one after the other, each
 * on the version the previous one produced), and every write is a fenced checkpoint.
 */
export class RunSession {
  readonly environment: RunEnvironment;
  #logger: Logger | undefined;
  /** Aborts the session's model and tool calls: the caller's signal, or a checkpoint write that failed. */
  readonly signal: AbortSignal;
  /** Set once a write was refused because another worker owns the run. */
  fencedBy: RunFencedError | undefined;
  /** Set once a checkpoint learns that someone asked to cancel the run. */
  cancelRequested = false;
  /** What semantic memory gave for the run's input, once looked up (see `memory/working-context.ts`). */
  recalled: RecalledItem[] | undefined;
  readonly #lost = new AbortController();
  #state: RunState;
  readonly #turns: Message[];
  #writes: Promise<unknown> = Promise.resolve();
  /** Detaches the session from the caller's signal, which may outlive it. */
  #unlink: () => void = () => undefined;
  /** Events sent to Redis whose reply has not come back yet (see `emit`). */
  readonly #publishing = new Set<Promise<void>>();

  constructor(environment: RunEnvironment, state: RunState, turns: Message[], signal: AbortSignal) {
    this.environment = environment;
    this.#state = state;
    this.#turns = turns;
    // Linked by hand rather than with AbortSignal.any, whose weak references every GC has to walk: the
    // caller's signal is the run's own and lives no longer than the session.
    this.signal = this.#lost.signal;
    if (signal.aborted) this.#lost.abort(signal.reason);
    else {
      const onAbort = () => this.#lost.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlink = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /** The run's logger (run, tenant, agent bound), made on first use: at `warn` most runs never log. */
  get logger(): Logger {
    this.#logger ??= this.environment.logger.child({
      runId: this.#state.runId,
      tenantId: this.#state.tenantId,
      agent: this.#state.agent,
    });
    return this.#logger;
  }

  get state(): RunState {
    return this.#state;
  }

  get turns(): readonly Message[] {
    return this.#turns;
  }

  /** Applies `change` to the latest state and checkpoints it; appended turns join the transcript. */
  update(
    change: (state: RunState) => Omit<RunState, 'version'>,
    options: CheckpointOptions = {},
  ): Promise<RunState> {
    return this.write((current) => ({ next: change(current), options }));
  }

  /**
   * Like `update`, for a write whose options depend on the latest state too (the turns a step appends
   * when its last tool result lands, say).
   */
  write(
    plan: (state: RunState) => { next: Omit<RunState, 'version'>; options?: CheckpointOptions },
  ): Promise<RunState> {
    const write = this.#writes.then(async () => {
      if (this.fencedBy) throw this.fencedBy;
      const planned = plan(this.#state);
      const options = planned.options ?? {};
      const next = { ...planned.next, updatedAt: this.environment.now() };
      try {
        const written = await this.environment.store.checkpoint(this.#state, next, options);
        this.#state = written.state;
        if (written.cancelRequested && !this.cancelRequested) {
          this.cancelRequested = true;
          // Calls still in flight for a cancelled run are stopped, not waited for.
          this.#lost.abort(new Error('the run was cancelled'));
        }
      } catch (error) {
        // The run is someone else's now, or this worker cannot save its work: either way its calls
        // still in flight for the run must stop, or a retry would run them a second time.
        if (error instanceof RunFencedError) this.fencedBy = error;
        this.#lost.abort(error);
        throw error;
      }
      if (options.appendTurns) this.#turns.push(...options.appendTurns);
      return this.#state;
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /**
   * Publishes an event about work already checkpointed, and logs it as one JSON line carrying the run,
   * tenant, agent and step (`detail` adds what belongs in the log but not in the event: inputs,
   * outputs, the full error; a function is called only when the line is written). The event is sent at once, but its reply is not waited for: the step
   * goes on while Redis appends it, and since one connection carries the session's commands in order,
   * the event still lands after its checkpoint and before the next. `published()` waits for them all.
   * A lost event is logged, never fatal.
   */
  emit(draft: RunEventDraft, detail: LogDetail = {}): void {
    const { runId, tenantId, agent, step } = this.#state;
    const event = { ...draft, runId, tenantId, agent, at: this.environment.now() } as RunEvent;
    const level = warningEvents.has(event.type) || ('error' in event && event.error) ? 'warn' : 'info';
    if (this.environment.logger.isLevelEnabled(level)) {
      const { type, runId: _runId, tenantId: _tenantId, agent: _agent, at: _at, ...fields } = event;
      const details = typeof detail === 'function' ? detail() : detail;
      this.logger[level]({ event: type, step, ...fields, ...details }, type);
    }
    const publishing: Promise<void> = this.environment.events.publish(event).then(
      () => {
        this.#publishing.delete(publishing);
      },
      (error: unknown) => {
        this.#publishing.delete(publishing);
        this.logger.warn({ err: error, event: event.type }, 'could not publish a run event');
      },
    );
    this.#publishing.add(publishing);
  }

  /** Resolves once every event emitted so far has been appended (or its loss logged). */
  async published(): Promise<void> {
    while (this.#publishing.size > 0) await Promise.all(this.#publishing);
  }

  /** Ends the worker's hold: waits for the events, and lets go of the caller's signal. */
  async close(): Promise<void> {
    await this.published();
    this.#unlink();
  }
}
