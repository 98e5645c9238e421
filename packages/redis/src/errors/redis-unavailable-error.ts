import { PlainloopError } from '@plainloop/contracts';

/** No Redis could be had: none at REDIS_URL, or no redis-server to start. The message says what to do. */
export class RedisUnavailableError extends PlainloopError {
  constructor(message: string, cause?: unknown) {
    super('redis_unavailable', message, { retryable: true, cause });
  }
}
