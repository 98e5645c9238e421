import { defineAgent } from '@plainloop/agent';
import { z } from 'zod';

/**
 * A companion that chats on a thread with a small context, so its older turns are summarized every
 * few runs, and recalls from semantic memory. Its models are served by the test's fake OpenAI server.
 */
export default defineAgent({
  name: 'companion',
  instructions: 'You are a friendly companion who chats about the harbour.',
  input: z.string(),
  models: { plan: ['openai:chat'], execute: ['openai:chat'] },
  memory: { contextTokens: 1_500, outputReserveTokens: 300, recall: { limit: 3 } },
});
