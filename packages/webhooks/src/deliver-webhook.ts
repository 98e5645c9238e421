import { isTerminalStatus } from '@plainloop/contracts';
import { type KeySchema, type RedisConnection, RunStore } from '@plainloop/redis';
import type { Logger } from '@plainloop/telemetry';
import { type Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { WebhookDeliveryError } from './errors/webhook-delivery-error.ts';
import { WebhookTargetRefusedError } from './errors/webhook-target-refused-error.ts';
import { postWebhook } from './post-webhook.ts';
import { type ResolveHost, resolveWebhookTarget } from './resolve-webhook-target.ts';
import { signedHeaders, signingKeyOf } from './sign-webhook.ts';
import { tenantSigningKeyOf } from './tenant-webhook-secret.ts';
import { type AttemptOutcome, WebhookDeliveryRecord } from './webhook-delivery.ts';
import { webhookPayloadOf } from './webhook-payload.ts';

type WebhookDeliverySettings = {
  /**
   * The deployment's secret, `whsec_` + base64 (`PLAINLOOP_WEBHOOK_SECRET`): each tenant's deliveries
   * are signed with a key derived from it (`webhookSecretOf`), never with it.
   */
  secret: string;
  allowPrivateTargets: boolean;
  /** Per attempt: connecting, sending, and the receiver's status line. */
  timeoutMs: number;
  /** How long delivery records are kept: the runs' retention. */
  retentionSeconds: number;
};

export type WebhookDeliveryDependencies = {
  redis: RedisConnection;
  keys: KeySchema;
  logger: Logger;
  settings: WebhookDeliverySettings;
  /** Resolves host names at delivery (the system resolver by default). */
  resolveHost?: ResolveHost;
  now?: () => number;
};

export type DeliveryResult =
  | { delivered: true; statusCode: number }
  | { delivered: false; reason: 'run_gone' | 'no_webhook' | 'not_ended' };

const WebhookJob = z.object({ tenantId: z.string().min(1), runId: z.string().min(1) });

/**
 * The processor of `plainloop-webhooks`: one attempt at delivering one run's result. The body is built
 * from the run as stored, signed for this attempt with the run's tenant's key, and POSTed to the address
 * its host was checked at. A 2xx delivers; anything else throws, and BullMQ retries with its backoff
 * until the attempts run out. A refused target is not retried: the URL, or where its name points, is
 * not for a delivery, and trying again for hours would change nothing.
 */
export function webhookProcessor(
  dependencies: WebhookDeliveryDependencies,
): (job: Job) => Promise<DeliveryResult> {
  const { redis, keys, logger, settings } = dependencies;
  const store = new RunStore(redis, keys);
  const masterKey = signingKeyOf(settings.secret);
  const now = dependencies.now ?? Date.now;

  return async (job) => {
    const parsed = WebhookJob.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`job ${job.id} does not name a run: ${parsed.error.issues[0]?.message}`);
    const { tenantId, runId } = parsed.data;
    const state = await store.load(tenantId, runId);
    // Nothing to send, and nothing a retry would change.
    if (state === undefined) {
      logger.warn({ runId, tenantId }, 'the run expired before its webhook was delivered');
      return { delivered: false, reason: 'run_gone' };
    }
    if (state.webhook === undefined) return { delivered: false, reason: 'no_webhook' };
    if (!isTerminalStatus(state.status)) {
      logger.error(
        { runId, tenantId, status: state.status },
        'a webhook was queued for a run that has not ended',
      );
      return { delivered: false, reason: 'not_ended' };
    }

    const body = JSON.stringify(webhookPayloadOf(state));
    const record = new WebhookDeliveryRecord(
      redis,
      keys.run(tenantId, runId).webhook,
      settings.retentionSeconds,
    );
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);
    // The URL may carry the receiver's own token in its query: logs name the host only.
    const host = new URL(state.webhook.url).host;
    await record.attemptStarted();
    // Once the POST is made, a failure to write down how it went must not send it again, nor hide why
    // it failed: such a write is logged and skipped.
    const writeDown = (outcome: AttemptOutcome) =>
      record
        .attemptEnded(outcome)
        .catch((error: unknown) =>
          logger.error({ err: error, runId, tenantId }, 'could not record how a webhook delivery went'),
        );
    let statusCode: number;
    try {
      const target = await resolveWebhookTarget(state.webhook.url, {
        allowPrivateTargets: settings.allowPrivateTargets,
        ...(dependencies.resolveHost ? { resolveHost: dependencies.resolveHost } : {}),
      });
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'plainloop-webhooks',
        ...signedHeaders(tenantSigningKeyOf(masterKey, tenantId), {
          id: runId,
          timestampSeconds: Math.floor(now() / 1000),
          body,
        }),
      };
      statusCode = await postWebhook(target, { body, headers, timeoutMs: settings.timeoutMs });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const answered = error instanceof WebhookDeliveryError ? error.statusCode : undefined;
      const refused = error instanceof WebhookTargetRefusedError;
      const final = lastAttempt || refused;
      await writeDown({
        kind: 'failed',
        final,
        error: refused ? `${message}; not retried` : message,
        ...(answered === undefined ? {} : { statusCode: answered }),
      });
      logger.warn(
        { runId, tenantId, host, attempt, final, err: error },
        refused
          ? 'webhook target refused: the delivery failed for good'
          : final
            ? 'webhook delivery failed for good'
            : 'webhook delivery failed; it is retried',
      );
      // BullMQ ends an UnrecoverableError's job `failed` whatever attempts are left.
      if (refused) throw new UnrecoverableError(message);
      throw error;
    }
    await writeDown({ kind: 'delivered', statusCode, at: now() });
    logger.info({ runId, tenantId, host, attempt, statusCode }, 'webhook delivered');
    return { delivered: true, statusCode };
  };
}
