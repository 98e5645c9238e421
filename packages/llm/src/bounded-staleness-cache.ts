/**
 * A per-process copy of fleet-wide state (a model's breaker, its cooldown) read from Redis at most
 * once per `refreshAfterMs`, and never used older than `maxAgeMs`: a value older than `refreshAfterMs`
 * is used while a fresh one is fetched in the background, so a steady stream of calls never waits on
 * Redis, and a value older than `maxAgeMs` (a model not called for a while) is waited for. What any
 * worker changes reaches every other one within `maxAgeMs`.
 */
export class BoundedStalenessCache<Value> {
  readonly #load: (key: string) => Promise<Value>;
  readonly #refreshAfterMs: number;
  readonly #maxAgeMs: number;
  readonly #entries = new Map<string, { value: Value; readAt: number }>();
  readonly #loading = new Map<string, Promise<Value>>();

  constructor(load: (key: string) => Promise<Value>, options: { refreshAfterMs: number; maxAgeMs: number }) {
    this.#load = load;
    this.#refreshAfterMs = options.refreshAfterMs;
    this.#maxAgeMs = options.maxAgeMs;
  }

  /** The value, fresh enough; waits for Redis only when the copy is missing or too old. */
  get(key: string): Value | Promise<Value> {
    const entry = this.#entries.get(key);
    const age = entry === undefined ? Number.POSITIVE_INFINITY : performance.now() - entry.readAt;
    if (entry !== undefined && age < this.#refreshAfterMs) return entry.value;
    const loading = this.#refresh(key);
    if (entry !== undefined && age < this.#maxAgeMs) {
      loading.catch(() => undefined);
      return entry.value;
    }
    return loading;
  }

  /** What this process itself just learned (its own failure opened a breaker, say). */
  set(key: string, value: Value): void {
    this.#entries.set(key, { value, readAt: performance.now() });
  }

  #refresh(key: string): Promise<Value> {
    const known = this.#loading.get(key);
    if (known) return known;
    // The time of the read is taken before it is sent: the value is at least as fresh as that.
    const readAt = performance.now();
    const loading = this.#load(key).then(
      (value) => {
        this.#loading.delete(key);
        // Not over what this process learned after the read was sent.
        const current = this.#entries.get(key);
        if (current === undefined || current.readAt <= readAt) this.#entries.set(key, { value, readAt });
        return value;
      },
      (error: unknown) => {
        this.#loading.delete(key);
        throw error;
      },
    );
    this.#loading.set(key, loading);
    return loading;
  }
}
