import { z } from 'zod';

export const RunStatus = z.enum([
  'queued',
  'running',
  'waiting',
  'succeeded',
  'failed',
  'cancelled',
  'budget_exceeded',
  'max_iterations',
]);
export type RunStatus = z.infer<typeof RunStatus>;

const terminalStatuses: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'succeeded',
  'failed',
  'cancelled',
  'budget_exceeded',
  'max_iterations',
]);

export function isTerminalStatus(status: RunStatus): boolean {
  return terminalStatuses.has(status);
}
