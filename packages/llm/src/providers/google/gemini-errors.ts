import { AsyncLocalStorage } from 'node:async_hooks';
import { ApiError } from '@google/genai';
import { LanguageModelError, type LanguageModelErrorDetails } from '../../errors/language-model-error.ts';
import { retryAfterMsFromHeaders } from '../../retry-after.ts';

/** What one call needs, besides the thrown error, to classify its failure. */
export type GeminiCallContext = {
  /** The caller's signal: an `AbortError` is the caller's abort when it fired, else the timeout. */
  signal: AbortSignal;
  /** The headers of the failed response, caught by `fetchCapturingErrorHeaders`. */
  errorHeaders?: Headers;
};

/**
 * The SDK's `ApiError` carries only the status and the body, not the headers, so `retry-after` is
 * lost by the time the error reaches us. The client's fetch stores a failed response's headers in
 * the context of the call that made it; AsyncLocalStorage keeps concurrent calls on one shared client
 * from reading each other's headers.
 */
const callContexts = new AsyncLocalStorage<GeminiCallContext>();

export const fetchCapturingErrorHeaders: typeof fetch = async (input, init) => {
  // Looked up at call time, not import time, so a fetch replaced by instrumentation is still used.
  const response = await globalThis.fetch(input, init);
  const context = callContexts.getStore();
  if (context && !response.ok) context.errorHeaders = response.headers;
  return response;
};

/** Runs one SDK call so that `fetchCapturingErrorHeaders` writes into `context`. */
export function runCapturingErrorHeaders<Result>(
  context: GeminiCallContext,
  call: () => Promise<Result>,
): Promise<Result> {
  return callContexts.run(context, call);
}

type RpcDetail = { '@type'?: string; retryDelay?: string; reason?: string };
type RpcErrorBody = { error?: { code?: number; message?: string; status?: string; details?: RpcDetail[] } };

/** `ApiError.message` is the JSON-stringified error body; anything else means there was no JSON body. */
function rpcErrorOf(error: ApiError): NonNullable<RpcErrorBody['error']> {
  try {
    const body = JSON.parse(error.message) as RpcErrorBody | null;
    return typeof body?.error === 'object' && body.error !== null ? body.error : {};
  } catch {
    return {};
  }
}

function detailOf(details: RpcDetail[] | undefined, type: string): RpcDetail | undefined {
  return (Array.isArray(details) ? details : []).find((detail) => detail['@type']?.endsWith(type));
}

/** A google.protobuf.Duration in its JSON form: "12s", "1.5s". */
function durationMs(duration: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(duration?.trim() ?? '');
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

const contextLengthMessage = /input token count.*exceeds the maximum/i;

function fromApiError(error: ApiError, model: string, context: GeminiCallContext): LanguageModelError {
  const rpcError = rpcErrorOf(error);
  const rpcStatus = rpcError.status;
  const providerMessage = rpcError.message ?? error.message;
  const status = error.status;
  const retryAfterMs =
    retryAfterMsFromHeaders(context.errorHeaders) ??
    durationMs(detailOf(rpcError.details, 'google.rpc.RetryInfo')?.retryDelay);
  const details: Omit<LanguageModelErrorDetails, 'kind'> = {
    model,
    status,
    message: `${status}: ${providerMessage}`,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    cause: error,
  };
  // The Developer API answers a wrong key with 400 INVALID_ARGUMENT, not 401; only the ErrorInfo
  // reason tells it from a malformed request.
  const keyRejected = detailOf(rpcError.details, 'google.rpc.ErrorInfo')?.reason === 'API_KEY_INVALID';
  if (status === 429 || rpcStatus === 'RESOURCE_EXHAUSTED') {
    return new LanguageModelError({ ...details, kind: 'rate_limit' });
  }
  if (
    status === 401 ||
    status === 403 ||
    rpcStatus === 'UNAUTHENTICATED' ||
    rpcStatus === 'PERMISSION_DENIED' ||
    keyRejected
  ) {
    return new LanguageModelError({ ...details, kind: 'auth' });
  }
  if (status === 503 || rpcStatus === 'UNAVAILABLE') {
    return new LanguageModelError({ ...details, kind: 'overloaded' });
  }
  if (status === 504 || status === 408 || rpcStatus === 'DEADLINE_EXCEEDED') {
    return new LanguageModelError({ ...details, kind: 'timeout' });
  }
  if (status >= 500 || status === 409) return new LanguageModelError({ ...details, kind: 'server' });
  if (contextLengthMessage.test(providerMessage)) {
    return new LanguageModelError({ ...details, kind: 'context_length' });
  }
  return new LanguageModelError({ ...details, kind: 'bad_request' });
}

function hasName(error: unknown, names: readonly string[]): boolean {
  return typeof error === 'object' && error !== null && names.includes(String((error as Error).name));
}

/** Any error out of the Gemini SDK (retries off) as a `LanguageModelError` with a normalised kind. */
export function toLanguageModelError(
  error: unknown,
  model: string,
  context: GeminiCallContext,
): LanguageModelError {
  if (error instanceof LanguageModelError) return error;
  if (error instanceof ApiError) return fromApiError(error, model, context);
  // The SDK aborts one internal controller for both the caller's signal and its own timeout, so the
  // DOMException is the same either way; only the caller's signal tells them apart.
  if (hasName(error, ['AbortError', 'TimeoutError'])) {
    return context.signal.aborted
      ? new LanguageModelError({ kind: 'aborted', message: 'the call was aborted', model, cause: error })
      : new LanguageModelError({ kind: 'timeout', message: 'the call timed out', model, cause: error });
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    // undici puts the reason (ECONNREFUSED, a reset, DNS) in the cause.
    const reason = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new LanguageModelError({
      kind: 'connection',
      message: `connection failed${reason}`,
      model,
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
