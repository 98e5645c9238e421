import type { RunState, StructuredError, ToolCall, ToolResult } from '@plainloop/contracts';
import { type Tool, type ValidatedToolCall, validateToolCall } from '@plainloop/tools';

/** Failures that are not the tool's own: the model's (bad arguments), a person's (a denial), the run's (a stop). */
const notTheToolsFault: ReadonlySet<string> = new Set([
  'invalid_arguments',
  'unknown_tool',
  'tool_disabled',
  'aborted',
  'approval_denied',
  'tool_outcome_unknown',
]);

export type ToolOutcome = Pick<RunState, 'toolFailures' | 'disabledTools'> & {
  /** Set when this outcome disabled the tool. */
  disabled?: { failures: number; error: StructuredError };
};

/**
 * The session breaker, a plain function: a tool that fails `limit` times in a row within a run is
 * disabled for the rest of it, so the model stops paying to call something that is broken.
 */
export function recordToolOutcome(
  state: Pick<RunState, 'toolFailures' | 'disabledTools'>,
  tool: string,
  result: ToolResult,
  limit: number,
  now: number,
): ToolOutcome {
  if (result.ok)
    return { toolFailures: { ...state.toolFailures, [tool]: 0 }, disabledTools: state.disabledTools };
  if (notTheToolsFault.has(result.error.code))
    return { toolFailures: state.toolFailures, disabledTools: state.disabledTools };
  const failures = (state.toolFailures[tool] ?? 0) + 1;
  const toolFailures = { ...state.toolFailures, [tool]: failures };
  if (failures < limit || tool in state.disabledTools)
    return { toolFailures, disabledTools: state.disabledTools };
  const reason = `${tool} failed ${failures} times in a row (last: ${result.error.code}: ${result.error.message})`;
  return {
    toolFailures,
    disabledTools: { ...state.disabledTools, [tool]: { reason, at: now } },
    disabled: { failures, error: result.error },
  };
}

function disabledToolError(
  state: Pick<RunState, 'disabledTools'>,
  tool: string,
): StructuredError | undefined {
  const disabled = state.disabledTools[tool];
  if (disabled === undefined) return undefined;
  return {
    code: 'tool_disabled',
    message: `${tool} is disabled for the rest of this run: ${disabled.reason}`,
    retryable: false,
  };
}

/** Validates a call the model made, refusing calls to a tool this run has disabled. */
export function validateCall(
  state: Pick<RunState, 'disabledTools'>,
  tools: ReadonlyMap<string, Tool>,
  call: ToolCall,
): ValidatedToolCall {
  const disabled = disabledToolError(state, call.name);
  return disabled ? { ok: false, call, error: disabled } : validateToolCall(tools, call);
}
