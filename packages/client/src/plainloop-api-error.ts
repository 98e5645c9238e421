import { PlainloopError } from '@plainloop/contracts';

export type PlainloopApiErrorFields = {
  /** The HTTP status; 0 when no answer came (unreachable, timed out, connection dropped). */
  status: number;
  /** The problem's `title`: a stable code such as `run_not_found`, `unauthenticated`, `unreachable`. */
  code: string;
  detail: string;
  /** Field-level reasons, when the API said which parts of the request did not fit. */
  errors?: readonly string[];
  /** How long the API asked the caller to wait before trying again (`retry-after`). */
  retryAfterMs?: number;
  cause?: unknown;
};

/** Whether trying the same request again later may work: rate limits, server failures, no answer. */
function isRetryableStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/**
 * Every failure of a call to the plainloop API: a problem the API answered (4xx, 5xx), or no answer
 * at all (status 0). A caller decides from `status`, `code` and `retryable` alone; the message is one
 * line, fit for a log or a terminal.
 */
export class PlainloopApiError extends PlainloopError {
  readonly status: number;
  readonly detail: string;
  readonly errors: readonly string[];
  readonly retryAfterMs: number | undefined;

  constructor(fields: PlainloopApiErrorFields) {
    const errors = fields.errors ?? [];
    const reasons = errors.length > 0 ? ` (${errors.join('; ')})` : '';
    super(fields.code, `${fields.code}: ${fields.detail}${reasons}`, {
      retryable: isRetryableStatus(fields.status),
      cause: fields.cause,
    });
    this.status = fields.status;
    this.detail = fields.detail;
    this.errors = errors;
    this.retryAfterMs = fields.retryAfterMs;
  }
}
