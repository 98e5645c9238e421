import { createHash } from 'node:crypto';
import type { Message, ToolForModel } from '@plainloop/contracts';
import type OpenAI from 'openai';

type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ChatTool = OpenAI.Chat.Completions.ChatCompletionTool;

/** Provider-neutral messages to Chat Completions messages; tool calls keep their ids for the round trip. */
/**
 * OpenAI refuses tool call ids over 40 characters; a transcript that started on another provider (a
 * fallback mid-run) may carry longer ones, so those are shortened the same way on both sides.
 */
function wireIdOf(id: string): string {
  return id.length <= 40 ? id : `call_${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

export function toChatMessages(messages: readonly Message[]): ChatMessage[] {
  return messages.map(toChatMessage);
}

function toChatMessage(message: Message): ChatMessage {
  switch (message.role) {
    case 'system':
    case 'user':
      return { role: message.role, content: message.content };
    case 'assistant':
      if (message.toolCalls.length === 0) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content === '' ? null : message.content,
        tool_calls: message.toolCalls.map((call) => ({
          id: wireIdOf(call.id),
          type: 'function',
          function: { name: call.name, arguments: call.argumentsJson },
        })),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: wireIdOf(message.toolCallId), content: message.content };
  }
}

export function toChatTools(tools: readonly ToolForModel[]): ChatTool[] {
  return tools.map((tool) => ({
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  }));
}
