import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { sendProblem } from '../problem.ts';

const RunId = z.string().regex(/^run_[a-zA-Z0-9_-]{8,64}$/, 'not a run id');
export const RunParams = z.object({ runId: RunId });

/** `Idempotency-Key`, the header form of the body's `idempotencyKey` (as Stripe and the IETF draft name it). */
export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('A retried request with the same key lands on the same run'),
});

/**
 * One key from the header or the body; both, and different, is a mistake the caller should hear
 * about: the 400 is sent and `refused` returned.
 */
export function idempotencyKeyOf(
  reply: FastifyReply,
  header: string | undefined,
  body: string | undefined,
): { key: string | undefined } | 'refused' {
  if (header === undefined || body === undefined || header === body) return { key: header ?? body };
  sendProblem(
    reply,
    400,
    'invalid_request',
    'the Idempotency-Key header and the body’s idempotencyKey differ',
  );
  return 'refused';
}

/** The reply to a request that started a run (created now, or found by its idempotency key). */
export const RunAccepted = z.object({ runId: z.string(), status: z.string() });
