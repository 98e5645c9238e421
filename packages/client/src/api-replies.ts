import type { BudgetDetail, RunEvent, RunStatus, Usage } from '@plainloop/contracts';

/**
 * What the API answers, as the client reads it. Plain types, not schemas: the client trusts the API
 * it talks to, and a newer API may add fields (or event types) that an older client must not refuse.
 */

export type CreatedRun = {
  runId: string;
  status: RunStatus;
  /** True when the idempotency key had already made this run: nothing new was queued. */
  replayed: boolean;
};

export type ForkedRun = CreatedRun & { forkedFrom: { runId: string; step: number } };

export type RunError = { code: string; message: string };

/** One model call of a run, as `GET /v1/runs/:id` lists it. */
export type RunModelCall = {
  step: number;
  model: string;
  finishReason: string;
  /** The names of the tools the model called. */
  toolCalls: string[];
  usage: Usage;
  costUsd: number;
  costKnown: boolean;
  latencyMs: number;
};

/** A tool call that waits for, or had, a person's decision. */
export type RunApproval = {
  callId: string;
  tool?: string;
  arguments?: unknown;
  decision: 'pending' | 'approved' | 'denied' | 'expired';
  requestedAt?: string;
  decidedAt?: string;
  comment?: string;
};

export type Run = {
  runId: string;
  agent: string;
  tenantId: string;
  threadId?: string;
  status: RunStatus;
  output?: unknown;
  error?: RunError;
  usage: Usage;
  costUsd: number;
  /** False when a model's price was unknown: `costUsd` then leaves those calls out. */
  costComplete: boolean;
  stepCount: number;
  steps: RunModelCall[];
  approvals: RunApproval[];
  budget?: BudgetDetail;
  /** For a fork: the run it was forked from, and what its replayed steps cost there. */
  forkedFrom?: { runId: string; step: number; usage: Usage; costUsd: number };
  /** The run's own model chains (a fork's), when it has them. */
  models?: { plan?: string[]; execute?: string[] };
  webhook?: { url: string };
  attempts: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
};

/** A run as `GET /v1/runs` lists it. */
export type RunListItem = {
  runId: string;
  agent: string;
  status: RunStatus;
  threadId?: string;
  costUsd: number;
  steps: number;
  createdAt: string;
  finishedAt?: string;
};

export type RunPage = { runs: RunListItem[]; nextCursor: string | null };

export type RunFilters = { status?: RunStatus; agent?: string; threadId?: string; limit?: number };

/** One step of a run's timeline (`GET /v1/runs/:id/steps`). */
export type TimelineStep = {
  step: number;
  tier?: string;
  /** On a fork: a step of the source run, replayed from its record (no model call made for it). */
  replayed?: boolean;
  modelCalls: Array<{
    model: string;
    tokens: { input: number; output: number };
    costUsd: number;
    latencyMs: number;
  }>;
  toolCalls: Array<{ tool: string; outcome: 'success' | 'error'; code?: string; latencyMs: number }>;
};

export type RunTimeline = { runId: string; status: RunStatus; costUsd: number; steps: TimelineStep[] };

/** `status` is the run's: `cancelled` at once for a queued or waiting run; a running one has `cancel: 'requested'`. */
export type CancelReply = { runId: string; status: RunStatus; cancel?: 'requested' };

/** The caller's tenant's webhook secret (`GET /v1/webhook-secret`), for `verifyWebhook`. */
export type WebhookSecretReply = { secret: string };

export type ApprovalReply = { runId: string; callId: string; decision: 'approved' | 'denied' };

/** An event of a run's stream, with its stream id (what `lastEventId` resumes after). */
export type StreamedEvent = { id: string; event: RunEvent };
