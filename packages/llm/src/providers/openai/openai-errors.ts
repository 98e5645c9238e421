import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { LanguageModelError } from '../../errors/language-model-error.ts';
import { retryAfterMsFromHeaders } from '../../retry-after.ts';

const contextLengthMessage = /maximum context length|context window|too many tokens/i;

/** Any error out of the OpenAI SDK (retries off) as a `LanguageModelError` with a normalised kind. */
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
    const providerMessage = (error.error as { message?: string } | undefined)?.message ?? error.message;
    // The server may say outright whether a retry can help; that beats any guess from the status.
    const shouldRetry = error.headers?.get('x-should-retry');
    const details = {
      ...(shouldRetry === 'true' || shouldRetry === 'false' ? { retryable: shouldRetry === 'true' } : {}),
      model,
      status: error.status,
      message: `${error.status ?? 'stream'}: ${providerMessage}`,
      retryAfterMs: retryAfterMsFromHeaders(error.headers),
      requestId: error.requestID ?? undefined,
      cause: error,
    };
    const status = error.status;
    if (status === 429) return new LanguageModelError({ ...details, kind: 'rate_limit' });
    if (status === 401 || status === 403) return new LanguageModelError({ ...details, kind: 'auth' });
    if (status === 408) return new LanguageModelError({ ...details, kind: 'timeout' });
    if (status === 409) return new LanguageModelError({ ...details, kind: 'server' });
    if (status === 503 || status === 529) return new LanguageModelError({ ...details, kind: 'overloaded' });
    if (status === undefined || status >= 500) return new LanguageModelError({ ...details, kind: 'server' });
    if (error.code === 'context_length_exceeded' || contextLengthMessage.test(providerMessage)) {
      return new LanguageModelError({ ...details, kind: 'context_length' });
    }
    return new LanguageModelError({ ...details, kind: 'bad_request' });
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
