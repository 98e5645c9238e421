import { defineAgent } from '@plainloop/agent';
import { z } from 'zod';

const input = z.object({ question: z.string() });

/** One-step agents whose models are served by the test's fake OpenAI server, told apart by model id. */
export default [
  defineAgent({
    name: 'flaky-first',
    instructions: 'Answer the question.',
    input,
    models: { plan: ['openai:flaky', 'openai:steady'], execute: ['openai:flaky', 'openai:steady'] },
  }),
  defineAgent({
    name: 'steady-only',
    instructions: 'Answer the question.',
    input,
    models: { plan: ['openai:steady'], execute: ['openai:steady'] },
  }),
];
