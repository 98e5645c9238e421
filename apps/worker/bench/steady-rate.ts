/**
 * The steady rate: work done per second between 10 % and 90 % of it, so that start-up and the tail do
 * not count. The bench's polls of a queue and the in-memory baseline's own count of its runs both feed it.
 */
export type SteadyRateMeter = {
  /** `done` of the expected work was done at `at` (`performance.now()`); counts only grow. */
  observe(at: number, done: number): void;
  /** Per second between the first observations past 10 % and past 90 %; NaN if they coincide. */
  rate(): number;
};

export function createSteadyRateMeter(expected: number): SteadyRateMeter {
  let tenth: [number, number] | undefined;
  let nineTenths: [number, number] | undefined;
  let last: [number, number] = [Number.NaN, 0];
  return {
    observe(at, done) {
      last = [at, done];
      if (!tenth && done >= expected * 0.1) tenth = [at, done];
      if (!nineTenths && done >= expected * 0.9) nineTenths = [at, done];
    },
    rate() {
      const [fromAt, fromCount] = tenth ?? last;
      const [toAt, toCount] = nineTenths ?? last;
      return toAt > fromAt ? ((toCount - fromCount) * 1000) / (toAt - fromAt) : Number.NaN;
    },
  };
}
