import type { StructuredError, ToolCall } from '@plainloop/contracts';
import type { Tool } from './define-tool.ts';

export type ValidatedToolCall =
  | { ok: true; call: ToolCall; tool: Tool; input: unknown }
  | { ok: false; call: ToolCall; error: StructuredError };

const maxIssues = 5;

/**
 * Checks a tool call the model made: a known tool, arguments that are JSON and fit the tool's zod
 * schema. A bad call becomes a structured error for the model to repair, never an exception.
 */
export function validateToolCall(tools: ReadonlyMap<string, Tool>, call: ToolCall): ValidatedToolCall {
  const tool = tools.get(call.name);
  if (tool === undefined) {
    const known = [...tools.keys()].join(', ') || 'none';
    return invalid(call, 'unknown_tool', `there is no tool named "${call.name}"; the tools are: ${known}`);
  }
  let parsedArguments: unknown;
  try {
    parsedArguments = call.argumentsJson.trim() === '' ? {} : JSON.parse(call.argumentsJson);
  } catch {
    return invalid(call, 'invalid_arguments', `the arguments of ${call.name} are not valid JSON`);
  }
  const checked = tool.input.safeParse(parsedArguments);
  if (!checked.success) {
    const issues = checked.error.issues
      .slice(0, maxIssues)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    return invalid(
      call,
      'invalid_arguments',
      `the arguments of ${call.name} do not fit its schema: ${issues.join('; ')}`,
    );
  }
  return { ok: true, call, tool, input: checked.data };
}

function invalid(call: ToolCall, code: string, message: string): ValidatedToolCall {
  return { ok: false, call, error: { code, message, retryable: false } };
}
