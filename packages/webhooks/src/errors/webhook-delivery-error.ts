import { PlainloopError } from '@plainloop/contracts';

/**
 * A delivery the receiver did not take: it answered with a status other than 2xx (`statusCode`), did
 * not answer in time, or could not be reached. Retryable: the queue tries again after its backoff.
 */
export class WebhookDeliveryError extends PlainloopError {
  readonly statusCode: number | undefined;

  constructor(message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super('webhook_failed', message, { retryable: true, cause: options.cause });
    this.statusCode = options.statusCode;
  }
}
