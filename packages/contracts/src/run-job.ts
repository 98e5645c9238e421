import { z } from 'zod';
import { RunRequest } from './run-request.ts';

/**
 * The data of a job on the `plainloop-runs` queue. A producer that enqueues with BullMQ directly sends
 * this, with `jobId` equal to `runId`; the worker creates the run from `request` if no run exists yet.
 */
export const RunJobData = z.object({
  runId: z.string().regex(/^run_[a-zA-Z0-9_-]{8,64}$/),
  request: RunRequest,
});
export type RunJobData = z.infer<typeof RunJobData>;
