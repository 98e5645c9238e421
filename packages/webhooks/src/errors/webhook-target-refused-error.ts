import { PlainloopError } from '@plainloop/contracts';

/**
 * A webhook whose target is not on the public internet (loopback, a private network, a cloud's metadata
 * address...) while the deployment does not allow such targets. Nothing was sent.
 */
export class WebhookTargetRefusedError extends PlainloopError {
  constructor(reason: string) {
    super('webhook_target_refused', reason);
  }
}
