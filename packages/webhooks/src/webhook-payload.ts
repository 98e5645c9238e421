import { type RunState, RunStatus, Usage } from '@plainloop/contracts';
import { z } from 'zod';

/** The body of every delivery: an ended run's result, read from the run when the delivery is made. */
export const WebhookPayload = z.object({
  type: z.literal('run.finished'),
  runId: z.string(),
  tenantId: z.string(),
  agent: z.string(),
  status: RunStatus.exclude(['queued', 'running', 'waiting']),
  output: z.json().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  usage: Usage,
  costUsd: z.number().min(0),
  steps: z.int().min(0),
  createdAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** The payload of an ended run. */
export function webhookPayloadOf(state: RunState): WebhookPayload {
  return WebhookPayload.parse({
    type: 'run.finished',
    runId: state.runId,
    tenantId: state.tenantId,
    agent: state.agent,
    status: state.status,
    ...(state.output === undefined ? {} : { output: state.output }),
    ...(state.error === undefined ? {} : { error: { code: state.error.code, message: state.error.message } }),
    usage: state.usage,
    costUsd: state.costUsd,
    steps: state.step,
    createdAt: new Date(state.createdAt).toISOString(),
    finishedAt: new Date(state.finishedAt ?? state.updatedAt).toISOString(),
  });
}
