import { createHash } from 'node:crypto';
import type Anthropic from '@anthropic-ai/sdk';
import type { AssistantMessage, Message, ToolForModel } from '@plainloop/contracts';

type ContentBlock = Anthropic.Messages.ContentBlockParam;
type Turn = { role: 'user' | 'assistant'; content: ContentBlock[] };

export type AnthropicConversation = {
  /** The system messages, joined: the Messages API takes them as one top-level field. */
  system: string | undefined;
  messages: Anthropic.Messages.MessageParam[];
};

/**
 * Provider-neutral messages to a Messages API conversation. The API wants strictly alternating user and
 * assistant turns, tool results as `tool_result` blocks in a user turn, and no empty text, so tool
 * messages become user turns and adjacent turns of one role are merged into one.
 */
export function toAnthropicConversation(
  messages: readonly Message[],
  withTools = true,
): AnthropicConversation {
  const system: string[] = [];
  const turns: Turn[] = [];
  for (const message of messages) {
    if (message.role === 'system') {
      system.push(message.content);
      continue;
    }
    // The API refuses tool blocks in a request that offers no tools (the run disabled them all): the
    // history of those calls then goes as text.
    const turn = withTools ? toTurn(message) : toTextTurn(message);
    if (turn.content.length === 0) continue;
    const previous = turns.at(-1);
    if (previous?.role === turn.role) previous.content.push(...turn.content);
    else turns.push(turn);
  }
  return { system: system.length > 0 ? system.join('\n\n') : undefined, messages: turns };
}

function toTurn(message: Exclude<Message, { role: 'system' }>): Turn {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: textBlocks(message.content) };
    case 'assistant':
      return { role: 'assistant', content: [...textBlocks(message.content), ...toolUseBlocks(message)] };
    case 'tool':
      return {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: wireIdOf(message.toolCallId),
            content: message.content,
            is_error: message.isError,
          },
        ],
      };
  }
}

/**
 * Anthropic accepts tool ids of letters, digits, `_` and `-` only; a transcript that started on another
 * provider may carry others (`functions.search:0`). Those are rewritten the same way on both sides, with
 * a hash of the original so two ids never collapse into one.
 */
function wireIdOf(id: string): string {
  if (/^[a-zA-Z0-9_-]+$/.test(id)) return id;
  const readable = id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 40);
  return `${readable}_${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

function toTextTurn(message: Exclude<Message, { role: 'system' }>): Turn {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: textBlocks(message.content) };
    case 'assistant': {
      const calls = message.toolCalls.map((call) => `[called ${call.name} with ${call.argumentsJson}]`);
      return {
        role: 'assistant',
        content: textBlocks([message.content, ...calls].filter(Boolean).join('\n')),
      };
    }
    case 'tool':
      return {
        role: 'user',
        content: textBlocks(
          `[${message.toolName} answered${message.isError ? ' with an error' : ''}: ${message.content}]`,
        ),
      };
  }
}

/** The API refuses empty text blocks; an empty text (a tool-call-only answer) is left out. */
function textBlocks(text: string): ContentBlock[] {
  return text === '' ? [] : [{ type: 'text', text }];
}

function toolUseBlocks(message: AssistantMessage): ContentBlock[] {
  return message.toolCalls.map((call) => ({
    type: 'tool_use',
    id: wireIdOf(call.id),
    name: call.name,
    input: toolInput(call.argumentsJson),
  }));
}

/**
 * Anthropic takes tool input as a JSON object. Arguments the model wrote that are not one were already
 * answered with a validation error, so `{}` keeps the history acceptable without losing anything the
 * model needs.
 */
function toolInput(argumentsJson: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(argumentsJson);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON at all: the same case as JSON that is not an object.
  }
  return {};
}

export function toAnthropicTools(tools: readonly ToolForModel[]): Anthropic.Messages.Tool[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    // Tool input schemas are derived from zod object schemas, so they are `type: 'object'` as the SDK
    // type insists; the contract only types them as a record.
    input_schema: tool.inputSchema as Anthropic.Messages.Tool.InputSchema,
  }));
}
