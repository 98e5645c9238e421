/**
 * The SDK adds a listener to the signal it is given and never removes it, even after a success. The
 * runtime passes one signal for a whole run, so each call gets its own signal that follows the
 * caller's, and only this call's listener on the caller's signal, removed when the call ends.
 */
export async function withCallSignal<Result>(
  signal: AbortSignal,
  call: (callSignal: AbortSignal) => Promise<Result>,
): Promise<Result> {
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  try {
    return await call(controller.signal);
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
