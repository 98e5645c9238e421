import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { LanguageModelErrorKind } from '@plainloop/contracts';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { retryAfterMsFromHeaders } from '../../retry-after.ts';

const contextLengthMessage = /prompt is too long/i;

/** An error without a status came from inside a stream, after a 200: only its type says what it was. */
function kindOfTypeOnly(type: string | null): LanguageModelErrorKind {
  if (type === 'overloaded_error') return 'overloaded';
  if (type === 'rate_limit_error') return 'rate_limit';
  return 'server';
}

function kindOf(error: APIError, providerMessage: string): LanguageModelErrorKind {
  const status = error.status;
  if (status === undefined) return kindOfTypeOnly(error.type);
  if (status === 429) return 'rate_limit';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408) return 'timeout';
  // Anthropic's own overload status is 529; a 503 from a proxy in front of it means the same.
  if (status === 529 || status === 503 || error.type === 'overloaded_error') return 'overloaded';
  if (status === 409 || status >= 500) return 'server';
  if (status === 400 && contextLengthMessage.test(providerMessage)) return 'context_length';
  return 'bad_request';
}

/** Any error out of the Anthropic SDK (retries off) as a `LanguageModelError` with a normalised kind. */
export function toLanguageModelError(error: unknown, model: string): LanguageModelError {
  if (error instanceof LanguageModelError) return error;
  if (error instanceof APIUserAbortError) {
    return new LanguageModelError({ kind: 'aborted', message: 'the call was aborted', model, cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new LanguageModelError({ kind: 'timeout', message: 'the call timed out', model, cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new LanguageModelError({
      kind: 'connection',
      message: `connection failed: ${error.message}`,
      model,
      cause: error,
    });
  }
  if (error instanceof APIError) {
    // `message` holds the whole JSON error body; `apiMessage` is just the sentence inside it.
    const providerMessage = error.apiMessage ?? error.message;
    // The server may say outright whether a retry can help; that beats any guess from the status.
    const shouldRetry = error.headers?.get('x-should-retry');
    return new LanguageModelError({
      ...(shouldRetry === 'true' || shouldRetry === 'false' ? { retryable: shouldRetry === 'true' } : {}),
      kind: kindOf(error, providerMessage),
      model,
      status: error.status,
      message: `${error.status ?? 'stream'}: ${providerMessage}`,
      retryAfterMs: retryAfterMsFromHeaders(error.headers),
      requestId: error.requestID ?? undefined,
      cause: error,
    });
  }
  if (error instanceof SyntaxError) {
    // The server answered 2xx with a body that is not JSON: a broken proxy or provider, worth a retry.
    return new LanguageModelError({
      kind: 'server',
      message: 'the response was not valid JSON',
      model,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new LanguageModelError({ kind: 'unknown', message, model, cause: error });
}
