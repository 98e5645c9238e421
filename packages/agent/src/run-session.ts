import type { Message, RunEvent, RunState } from '@plainloop/contracts';
import type { RecalledItem } from '@plainloop/memory';
import { type Checkpoint, type CheckpointOptions, RunFencedError } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { ReplicaUnavailableError } from './errors/replica-unavailable-error.ts';
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

/** An event with what its log line adds besides the event (inputs, outputs, the full error). */
export type PlannedEvent = RunEventDraft | { draft: RunEventDraft; detail: LogDetail };

export type WriteOptions = Omit<CheckpointOptions, 'events'>;

/** A checkpoint as planned on the latest state: the next state, and the events of the work it saves. */
export type WritePlan = {
  next: Omit<RunState, 'version'>;
  options?: WriteOptions;
  /** A function when the events depend on the transcript with this write's turns appended. */
  events?: readonly PlannedEvent[] | (() => readonly PlannedEvent[]);
};

type Announced = { event: RunEvent; detail: LogDetail | undefined };

/**
 * One worker's hold on one run: the state as last written, the transcript, and the only way to change
 * them. Writes are serialised (tool results that land together are written one after the other, each
 * on the version the previous one produced), and every write is a fenced checkpoint that carries the
 * events of the work it saves: an event lands exactly when its checkpoint does.
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
  /** Events of no checkpoint of their own (a failed attempt, a breaker that opened), for the next one. */
  #loose: Announced[] = [];

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

  /** Applies `change` to the latest state and checkpoints it, with `events`; appended turns join the transcript. */
  update(
    change: (state: RunState) => Omit<RunState, 'version'>,
    options: WriteOptions = {},
    events: readonly PlannedEvent[] = [],
  ): Promise<RunState> {
    return this.write((current) => ({ next: change(current), options, events }));
  }

  /**
   * Like `update`, for a write whose options or events depend on the latest state too (the turns a
   * step appends when its last tool result lands, say).
   */
  write(plan: (state: RunState) => WritePlan): Promise<RunState> {
    const write = this.#writes.then(async () => {
      if (this.fencedBy) throw this.fencedBy;
      const planned = plan(this.#state);
      const options = planned.options ?? {};
      const now = this.environment.now();
      const next = { ...planned.next, updatedAt: now };
      // The turns join the transcript before the events are made (a step's `step.started` names the
      // tier the next step chooses from them), and leave it again if the write fails.
      const turnsBefore = this.#turns.length;
      if (options.appendTurns) for (const turn of options.appendTurns) this.#turns.push(turn);
      const loose = this.#loose;
      this.#loose = [];
      const plannedEvents = typeof planned.events === 'function' ? planned.events() : (planned.events ?? []);
      const own = plannedEvents.map((each) => this.#announce(each, next, now));
      const events: RunEvent[] = [];
      for (const { event } of loose) events.push(event);
      for (const { event } of own) events.push(event);
      let written: Checkpoint;
      try {
        written = await this.environment.store.checkpoint(this.#state, next, { ...options, events });
        this.#state = written.state;
        if (written.cancelRequested && !this.cancelRequested) {
          this.cancelRequested = true;
          // Calls still in flight for a cancelled run are stopped, not waited for.
          this.#lost.abort(new Error('the run was cancelled'));
        }
      } catch (error) {
        this.#turns.length = turnsBefore;
        // The run is someone else's now, or this worker cannot save its work: either way its calls
        // still in flight for the run must stop, or a retry would run them a second time.
        if (error instanceof RunFencedError) this.fencedBy = error;
        this.#lost.abort(error);
        throw error;
      }
      for (const each of own) this.#log(each);
      // The write stands (and is the state now); only what it guards must not go ahead.
      if (!written.replicated) throw new ReplicaUnavailableError();
      return this.#state;
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /**
   * An event of no checkpoint of its own (a failed attempt of a model call, a breaker that opened): it
   * goes to Redis with the run's next checkpoint, so it is lost only with the work in flight.
   */
  emit(draft: RunEventDraft, detail?: LogDetail): void {
    const announced = this.#announce(detail ? { draft, detail } : draft, this.#state, this.environment.now());
    this.#log(announced);
    this.#loose.push(announced);
  }

  /** Ends the worker's hold: lets go of the caller's signal. */
  close(): void {
    this.#unlink();
  }

  #announce(planned: PlannedEvent, state: Omit<RunState, 'version'>, at: number): Announced {
    const { draft, detail } = 'draft' in planned ? planned : { draft: planned, detail: undefined };
    const event = { ...draft, runId: state.runId, tenantId: state.tenantId, agent: state.agent, at };
    return { event: event as RunEvent, detail };
  }

  /** Every run event is also a log line, carrying the run, tenant, agent and step. */
  #log({ event, detail }: Announced): void {
    const level = warningEvents.has(event.type) || ('error' in event && event.error) ? 'warn' : 'info';
    if (!this.environment.logger.isLevelEnabled(level)) return;
    const { type, runId: _runId, tenantId: _tenantId, agent: _agent, at: _at, ...fields } = event;
    const details = typeof detail === 'function' ? detail() : (detail ?? {});
    this.logger[level]({ event: type, step: this.#state.step, ...fields, ...details }, type);
  }
}
