import { createHash, randomUUID } from 'node:crypto';
import type { RunRequest } from './run-request.ts';

/**
 * The run id. With an idempotency key it is derived from tenant and key, so a retried POST (or a
 * producer that enqueues twice, over HTTP or straight into BullMQ) lands on the same run and the same
 * BullMQ job id; without one it is random. Any language can compute it: `run_` and the first 32 hex
 * digits of SHA-256 over `tenant`, a NUL byte, and the key.
 */
export function runIdFor(request: Pick<RunRequest, 'tenantId' | 'idempotencyKey'>): string {
  if (request.idempotencyKey === undefined) return `run_${randomUUID().replaceAll('-', '')}`;
  const digest = createHash('sha256')
    .update(`${request.tenantId}\u0000${request.idempotencyKey}`)
    .digest('hex');
  return `run_${digest.slice(0, 32)}`;
}
