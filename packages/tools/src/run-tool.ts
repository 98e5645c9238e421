import { PlainloopError, type StructuredError, type ToolResult } from '@plainloop/contracts';
import type { Tool, ToolContext } from './define-tool.ts';

const maxErrorMessageChars = 1_000;

export type RunToolOptions = Omit<ToolContext, 'signal'> & {
  /** The run's signal (cancellation, shutdown); the tool also gets its own timeout on top. */
  signal: AbortSignal;
  /** Outputs longer than this, as JSON, reach the model cut to this length with a note. */
  maxOutputChars: number;
};

/**
 * Runs one validated tool call under its timeout and turns every way it can end into a `ToolResult`:
 * thrown errors and timeouts become `{code, message, retryable}`, outputs are checked against the
 * tool's output schema, made plain JSON and bounded in size. It never throws.
 */
export async function runTool(tool: Tool, input: unknown, options: RunToolOptions): Promise<ToolResult> {
  const { signal: runSignal, maxOutputChars } = options;
  if (runSignal.aborted) return failure('aborted', 'the run was stopped before the tool ran', true);
  // Made only for a tool that reads its signal: most never do, and a controller per call is not free.
  let controller: AbortController | undefined;
  let stopped: Error | undefined;
  const context: ToolContext = {
    runId: options.runId,
    step: options.step,
    callId: options.callId,
    idempotencyKey: options.idempotencyKey,
    get signal() {
      controller ??= new AbortController();
      // Asked for after the call was stopped (it timed out): the signal says so at once.
      if (stopped && !controller.signal.aborted) controller.abort(stopped);
      return controller.signal;
    },
    // Read through: the caller may make the tool's logger only when the tool first logs.
    get logger() {
      return options.logger;
    },
  };
  let returned: unknown;
  try {
    returned = tool.run(input, context);
  } catch (error) {
    return failure(...describeThrown(error));
  }
  // A tool that answered at once needs no timeout: nothing can interrupt it while it runs anyway.
  if (!isThenable(returned)) return normaliseOutput(tool, returned, maxOutputChars);
  const running = Promise.resolve(returned);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // The tool gets a signal, but a tool that ignores it must not hold the run: both a timeout and a stop
  // of the run end the wait, whatever the tool does.
  const interrupted = new Promise<'timeout' | 'aborted'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), tool.timeoutMs);
    onAbort = () => resolve('aborted');
    runSignal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const outcome = await Promise.race([running.then((output) => ({ output })), interrupted]);
    if (outcome === 'timeout' || outcome === 'aborted') {
      stopped = new Error(outcome === 'timeout' ? 'tool timeout' : 'run stopped');
      controller?.abort(stopped);
      running.catch(() => {});
      return outcome === 'timeout'
        ? failure('tool_timeout', `${tool.name} did not finish within ${tool.timeoutMs} ms`, true)
        : failure('aborted', 'the run was stopped while the tool ran', true);
    }
    return normaliseOutput(tool, outcome.output, maxOutputChars);
  } catch (error) {
    if (runSignal.aborted) return failure('aborted', 'the run was stopped while the tool ran', true);
    return failure(...describeThrown(error));
  } finally {
    clearTimeout(timer);
    if (onAbort) runSignal.removeEventListener('abort', onAbort);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function normaliseOutput(tool: Tool, output: unknown, maxOutputChars: number): ToolResult {
  if (tool.output) {
    const checked = tool.output.safeParse(output);
    if (!checked.success) {
      return failure('invalid_output', `${tool.name} returned output that does not fit its schema`, false);
    }
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(output ?? null);
  } catch {
    json = undefined;
  }
  if (json === undefined) {
    return failure('invalid_output', `${tool.name} returned output that cannot be written as JSON`, false);
  }
  if (json.length <= maxOutputChars) return { ok: true, output: JSON.parse(json) };
  return {
    ok: true,
    output: `${json.slice(0, maxOutputChars)}… [truncated: ${maxOutputChars} of ${json.length} characters shown]`,
  };
}

function describeThrown(error: unknown): [code: string, message: string, retryable: boolean] {
  if (error instanceof PlainloopError) return [error.code, bounded(error.message), error.retryable];
  const message = error instanceof Error ? error.message : String(error);
  return ['tool_error', bounded(message), false];
}

function bounded(message: string): string {
  return message.length <= maxErrorMessageChars ? message : `${message.slice(0, maxErrorMessageChars)}…`;
}

function failure(code: string, message: string, retryable: boolean): ToolResult {
  const error: StructuredError = { code, message, retryable };
  return { ok: false, error };
}
