import { type LanguageModelErrorKind, PlainloopError } from '@plainloop/contracts';

const retryableKinds: ReadonlySet<LanguageModelErrorKind> = new Set([
  'rate_limit',
  'overloaded',
  'timeout',
  'connection',
  'server',
]);

export type LanguageModelErrorDetails = {
  kind: LanguageModelErrorKind;
  message: string;
  /** `provider:model` of the model that failed. */
  model: string;
  status?: number;
  /** How long the provider asked us to wait, from `retry-after(-ms)` or the error body. */
  retryAfterMs?: number;
  requestId?: string;
  /** The provider's own verdict (`x-should-retry`), when it gives one; otherwise the kind decides. */
  retryable?: boolean;
  cause?: unknown;
};

/**
 * A model call that failed, normalised across providers. `code` is `llm_<kind>`; `retryable` says
 * whether the same call may succeed later (the router decides whether and where to retry).
 */
export class LanguageModelError extends PlainloopError {
  readonly kind: LanguageModelErrorKind;
  readonly model: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;

  constructor(details: LanguageModelErrorDetails) {
    super(`llm_${details.kind}`, details.message, {
      retryable: details.retryable ?? retryableKinds.has(details.kind),
      cause: details.cause,
    });
    this.kind = details.kind;
    this.model = details.model;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.requestId = details.requestId;
  }
}
