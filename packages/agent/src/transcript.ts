import type {
  AssistantMessage,
  GenerateResult,
  ToolCall,
  ToolMessage,
  ToolResult,
} from '@plainloop/contracts';

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
