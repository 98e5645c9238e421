import { PlainloopError } from '@plainloop/contracts';

/** Redis refused the credentials of REDIS_URL (none given, or wrong ones): a mistake, not an outage. */
export class RedisAuthError extends PlainloopError {
  constructor(message: string, cause?: unknown) {
    super('redis_auth_refused', message, { retryable: false, cause });
  }
}
