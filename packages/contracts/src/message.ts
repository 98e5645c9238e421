import { z } from 'zod';
import { ToolCall } from './tool-call.ts';

/**
 * Provider-neutral conversation messages. Adapters convert them to each provider's wire shape; the
 * run's transcript in Redis is a list of these, appended and never rewritten.
 */
export const SystemMessage = z.object({ role: z.literal('system'), content: z.string() });
export const UserMessage = z.object({ role: z.literal('user'), content: z.string() });
export const AssistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.string(),
  toolCalls: z.array(ToolCall),
});
export const ToolMessage = z.object({
  role: z.literal('tool'),
  toolCallId: z.string(),
  toolName: z.string(),
  content: z.string(),
  isError: z.boolean(),
});

export const Message = z.discriminatedUnion('role', [
  SystemMessage,
  UserMessage,
  AssistantMessage,
  ToolMessage,
]);
export type Message = z.infer<typeof Message>;
export type AssistantMessage = z.infer<typeof AssistantMessage>;
export type ToolMessage = z.infer<typeof ToolMessage>;
