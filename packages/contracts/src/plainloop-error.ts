/**
 * The one error base class. Every error plainloop throws on purpose extends it, so a caller can tell
 * "a failure we named" from "a bug", and decide from `code` and `retryable` alone.
 */
export class PlainloopError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  /** The user-safe shape that crosses process boundaries: no stack, no cause. */
  toStructured(): { code: string; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}
