import { createHash } from 'node:crypto';
import { emptyUsage, type RunRequest, type RunState } from '@plainloop/contracts';

export { runIdFor } from '@plainloop/contracts';

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

/** Identifies what was asked, to tell a retried request from a different one reusing the same key. */
export function requestHashOf(request: RunRequest): string {
  const { agent, input, threadId, limits, metadata, webhook } = request;
  return createHash('sha256')
    .update(canonicalJson({ agent, input, threadId, limits, metadata, webhook }))
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
    ...(request.webhook === undefined ? {} : { webhook: request.webhook }),
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

/** Identifies a fork request, so a retried fork lands on its run and a different one is a conflict. */
export function forkHashOf(fork: {
  sourceRunId: string;
  fromStep: number;
  models?: RunState['models'];
  limits?: RunState['limits'];
  webhook?: RunState['webhook'];
}): string {
  return createHash('sha256')
    .update(canonicalJson({ fork: fork.sourceRunId, ...fork, sourceRunId: undefined }))
    .digest('hex');
}
