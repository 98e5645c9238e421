import { setTimeout as sleep } from 'node:timers/promises';
import { defineAgent, defineTool } from '@plainloop/agent';
import { type ScriptContext, type ScriptedReply, scriptedModel } from '@plainloop/llm';
import { z } from 'zod';

/** Offline tiers for an agent, priced as real models so costs show; each model says which tier it is. */
function scriptedTiers(name: string, script: (context: ScriptContext) => ScriptedReply) {
  return {
    plan: [scriptedModel({ name: `${name}-plan`, script, pricedAs: 'openai:gpt-4.1', latencyMs: 20 })],
    execute: [
      scriptedModel({ name: `${name}-execute`, script, pricedAs: 'openai:gpt-4.1-mini', latencyMs: 20 }),
    ],
  };
}

const lookup = defineTool({
  name: 'lookup',
  description: 'Look a fact up',
  input: z.object({ topic: z.string() }),
  idempotent: true,
  run: ({ topic }) => ({ fact: `${topic} is fine` }),
});

/** Waits as long as asked, or until the run is cancelled (its signal aborts the wait). */
const pause = defineTool({
  name: 'pause',
  description: 'Wait a while',
  input: z.object({ ms: z.int().min(0) }),
  idempotent: true,
  timeoutMs: 120_000,
  async run({ ms }, context) {
    await sleep(ms, undefined, { signal: context.signal });
    return { waited: ms };
  },
});

/** Needs a person's approval for every call. */
const refund = defineTool({
  name: 'refund',
  description: 'Refund an order',
  input: z.object({ orderId: z.string() }),
  requiresApproval: true,
  run: ({ orderId }) => ({ refunded: orderId }),
});

const answer = z.object({ answer: z.string() });

/**
 * Agents for the client and CLI tests, on scripted models (offline, deterministic): `lookup` looks a
 * topic up then answers (two steps); `sleeper` pauses until cancelled; `refunds` needs an approval;
 * `stubborn` never answers in the required shape, so it fails `invalid_output`.
 */
export default [
  defineAgent({
    name: 'lookup',
    instructions: 'Look the topic up, then answer.',
    input: z.object({ topic: z.string() }),
    output: answer,
    tools: [lookup],
    models: scriptedTiers('lookup', ({ input, toolResults }) => {
      const found = toolResults.get('lookup') as { fact: string } | undefined;
      const { topic } = input as { topic: string };
      if (!found) return { toolCalls: [{ name: 'lookup', arguments: { topic } }] };
      return { text: JSON.stringify({ answer: found.fact }) };
    }),
  }),
  defineAgent({
    name: 'sleeper',
    instructions: 'Pause, then answer.',
    input: z.object({ ms: z.int().min(0) }),
    tools: [pause],
    models: scriptedTiers('sleeper', ({ input, toolResults }) =>
      toolResults.has('pause')
        ? { text: 'rested' }
        : { toolCalls: [{ name: 'pause', arguments: { ms: (input as { ms: number }).ms } }] },
    ),
  }),
  defineAgent({
    name: 'refunds',
    instructions: 'Refund the order, then answer.',
    input: z.object({ orderId: z.string() }),
    tools: [refund],
    models: scriptedTiers('refunds', ({ input, toolResults }) =>
      toolResults.has('refund')
        ? { text: `refund: ${JSON.stringify(toolResults.get('refund'))}` }
        : { toolCalls: [{ name: 'refund', arguments: { orderId: (input as { orderId: string }).orderId } }] },
    ),
  }),
  defineAgent({
    name: 'stubborn',
    instructions: 'Answer as JSON.',
    input: z.object({ question: z.string() }),
    output: answer,
    models: scriptedTiers('stubborn', () => ({ text: 'no idea' })),
  }),
];
