import { PlainloopError, type StructuredError } from '@plainloop/contracts';

/**
 * Throw it from a tool to choose the code the model sees and whether a retry could help, e.g.
 * `throw new ToolError({ code: 'not_found', message: 'no order 42', retryable: false })`.
 * Any other thrown error becomes `tool_error`, not retryable.
 */
export class ToolError extends PlainloopError {
  constructor(error: Omit<StructuredError, 'retryable'> & { retryable?: boolean; cause?: unknown }) {
    super(error.code, error.message, { retryable: error.retryable ?? false, cause: error.cause });
  }
}
