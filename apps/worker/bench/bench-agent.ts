import { defineAgent, defineTool } from '@plainloop/agent';
import { scriptedModel } from '@plainloop/llm';
import { z } from 'zod';

const lookup = defineTool({
  name: 'lookup',
  description: 'Return a fixed record',
  input: z.object({ key: z.string() }),
  idempotent: true,
  run: ({ key }) => ({ key, value: 42 }),
});

/** Every step: one scripted model call (no simulated latency) that asks for one tool call. */
const model = scriptedModel({
  name: 'bench',
  script: ({ turn }) => ({ toolCalls: [{ name: 'lookup', arguments: { key: `k${turn}` } }] }),
});

/** Runs of exactly three identical steps: the iteration limit ends each run after its third step. */
export const benchAgent = defineAgent({
  name: 'bench',
  instructions: 'Look things up.',
  input: z.object({ index: z.int() }),
  tools: [lookup],
  models: { plan: [model], execute: [model] },
  limits: { maxIterations: 3 },
});
