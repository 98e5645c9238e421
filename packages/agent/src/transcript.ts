import type {
  AssistantMessage,
  GenerateResult,
  Message,
  ToolCall,
  ToolMessage,
  ToolResult,
} from '@plainloop/contracts';

/**
 * The messages a step sends to the model: the agent's instructions, the run's input, then the run's
 * transcript as appended step by step. (Memory will trim this to a token budget.)
 */
export function buildMessages(
  instructions: string,
  input: unknown,
  turns: readonly Message[],
  disabledTools: Readonly<Record<string, { reason: string }>> = {},
): Message[] {
  const disabled = Object.values(disabledTools).map(({ reason }) => reason);
  return [
    { role: 'system', content: instructions },
    ...(disabled.length > 0
      ? [
          {
            role: 'system' as const,
            content: `Some tools were disabled for the rest of this run and are no longer offered: ${disabled.join('; ')}. Work without them.`,
          },
        ]
      : []),
    { role: 'user', content: typeof input === 'string' ? input : JSON.stringify(input) },
    ...turns,
  ];
}

export function assistantMessageOf(result: GenerateResult): AssistantMessage {
  return { role: 'assistant', content: result.text, toolCalls: result.toolCalls };
}

/** How a tool result reads to the model: the output as JSON, or `{"error": {code, message, retryable}}`. */
export function toolMessageOf(call: ToolCall, result: ToolResult): ToolMessage {
  if (result.ok) {
    const content = typeof result.output === 'string' ? result.output : JSON.stringify(result.output);
    return { role: 'tool', toolCallId: call.id, toolName: call.name, content, isError: false };
  }
  return {
    role: 'tool',
    toolCallId: call.id,
    toolName: call.name,
    content: JSON.stringify({ error: result.error }),
    isError: true,
  };
}
