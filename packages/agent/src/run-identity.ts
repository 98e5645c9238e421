import { createHash, randomUUID } from 'node:crypto';
import { emptyUsage, type RunRequest, type RunState } from '@plainloop/contracts';

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, child]) => child !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The run id. With an idempotency key it is derived from tenant and key, so a retried POST (or a
 * producer that enqueues twice) lands on the same run and the same BullMQ job id; without one it is
 * random.
 */
export function runIdFor(request: Pick<RunRequest, 'tenantId' | 'idempotencyKey'>): string {
  if (request.idempotencyKey === undefined) return `run_${randomUUID().replaceAll('-', '')}`;
  const digest = createHash('sha256')
    .update(`${request.tenantId}\u0000${request.idempotencyKey}`)
    .digest('hex');
  return `run_${digest.slice(0, 32)}`;
}

/** Identifies what was asked, to tell a retried request from a different one reusing the same key. */
export function requestHashOf(request: RunRequest): string {
  const { agent, input, threadId, limits, metadata } = request;
  return createHash('sha256')
    .update(canonicalJson({ agent, input, threadId, limits, metadata }))
    .digest('hex');
}

export function newRunState(runId: string, request: RunRequest, now: number): RunState {
  return {
    runId,
    tenantId: request.tenantId,
    agent: request.agent,
    ...(request.threadId === undefined ? {} : { threadId: request.threadId }),
    input: request.input,
    ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
    ...(request.limits === undefined ? {} : { limits: request.limits }),
    requestHash: requestHashOf(request),
    version: 0,
    status: 'queued',
    step: 0,
    pending: null,
    usage: { ...emptyUsage },
    costUsd: 0,
    unpricedCalls: 0,
    llmCalls: 0,
    toolCalls: 0,
    outputRepairs: 0,
    toolFailures: {},
    disabledTools: {},
    attempt: 0,
    createdAt: now,
    updatedAt: now,
  };
}
