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
export type RunEventDraft = DistributiveOmit<RunEvent, 'runId' | 'tenantId' | 'agent' | 'at'>;

/**
 * One worker's hold on one run: the state as last written, the transcript, and the only way to change
 * them. Writes are serialised (tool results that land together are written one after the other, each
 * on the version the previous one produced), and every write is a fenced checkpoint.
 */
export class RunSession {
  readonly environment: RunEnvironment;
  readonly logger: Logger;
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

  constructor(environment: RunEnvironment, state: RunState, turns: Message[], signal: AbortSignal) {
    this.environment = environment;
    this.#state = state;
    this.#turns = turns;
    this.signal = AbortSignal.any([signal, this.#lost.signal]);
    this.logger = environment.logger.child({
      runId: state.runId,
      tenantId: state.tenantId,
      agent: state.agent,
    });
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
    const write = this.#writes.then(async () => {
      if (this.fencedBy) throw this.fencedBy;
      const next = { ...change(this.#state), updatedAt: this.environment.now() };
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
   * outputs, the full error). A lost event is logged, never fatal.
   */
  async emit(draft: RunEventDraft, detail: Record<string, unknown> = {}): Promise<void> {
    const { runId, tenantId, agent, step } = this.#state;
    const event = { ...draft, runId, tenantId, agent, at: this.environment.now() } as RunEvent;
    const { type, runId: _runId, tenantId: _tenantId, agent: _agent, at: _at, ...fields } = event;
    const level = warningEvents.has(type) || ('error' in fields && fields.error) ? 'warn' : 'info';
    this.logger[level]({ event: type, step, ...fields, ...detail }, type);
    try {
      await this.environment.events.publish(event);
    } catch (error) {
      this.logger.warn({ err: error, event: event.type }, 'could not publish a run event');
    }
  }
}
