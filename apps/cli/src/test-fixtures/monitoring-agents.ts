import { defineAgent, defineTool, ToolError } from '@plainloop/agent';
import { z } from 'zod';

const input = z.object({ plan: z.enum(['lookup', 'fragile', 'slow', 'answer']) });
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

const lookup = defineTool({
  name: 'lookup',
  description: 'Look a fact up',
  input: z.object({ topic: z.string(), delayMs: z.int().min(0).default(0) }),
  idempotent: true,
  async run({ topic, delayMs }) {
    await sleep(50 + delayMs);
    return { fact: `${topic} is fine` };
  },
});

const fragile = defineTool({
  name: 'fragile',
  description: 'A tool whose backend is down',
  input: z.object({ attempt: z.int() }),
  idempotent: true,
  run() {
    throw new ToolError({ code: 'upstream_down', message: 'the upstream service answered 503' });
  },
});

/**
 * Agents for the monitoring tests; the test's fake OpenAI server tells them apart by model id and
 * drives them by `plan`: call lookup, call the failing tool until it is disabled, call a slow lookup,
 * or answer at once.
 */
export default [
  defineAgent({
    name: 'helper',
    instructions: 'Help.',
    input,
    tools: [lookup, fragile],
    models: { plan: ['openai:flaky', 'openai:steady'], execute: ['openai:flaky', 'openai:steady'] },
  }),
  defineAgent({
    name: 'flaky-only',
    instructions: 'Help.',
    input,
    tools: [lookup],
    models: { plan: ['openai:flaky'], execute: ['openai:flaky'] },
  }),
  defineAgent({
    name: 'broken',
    instructions: 'Help.',
    input,
    models: { plan: ['openai:broken'], execute: ['openai:broken'] },
  }),
  defineAgent({
    name: 'steady',
    instructions: 'Help.',
    input,
    tools: [lookup],
    models: { plan: ['openai:steady'], execute: ['openai:steady'] },
  }),
];
