import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineAgent, defineTool } from '@plainloop/agent';
import { z } from 'zod';

/** Each execution of a side effect appends a line to a file named by its idempotency key. */
function recordExecution(directory: string, idempotencyKey: string) {
  mkdirSync(directory, { recursive: true });
  appendFileSync(join(directory, idempotencyKey.replaceAll(':', '_')), `${process.pid}\n`);
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** A payment: a side effect that must never happen twice. Not idempotent, so the runtime runs it at most once. */
const pay = defineTool({
  name: 'pay',
  description: 'Pay an amount',
  input: z.object({ amount: z.number(), effectsDirectory: z.string() }),
  async run({ amount, effectsDirectory }, context) {
    recordExecution(effectsDirectory, context.idempotencyKey);
    await sleep(300);
    return { paid: amount };
  },
});

/** A read: idempotent, so a replay may run it again. */
const lookup = defineTool({
  name: 'lookup',
  description: 'Look a balance up',
  input: z.object({ effectsDirectory: z.string() }),
  idempotent: true,
  async run() {
    await sleep(200);
    return { balance: 90 };
  },
});

/** Blocks its worker's event loop the first time (a runaway synchronous parse), so the worker loses its lock. */
const crunch = defineTool({
  name: 'crunch',
  description: 'Crunch numbers',
  input: z.object({ markerDirectory: z.string(), blockMs: z.int() }),
  idempotent: true,
  run({ markerDirectory, blockMs }, context) {
    mkdirSync(markerDirectory, { recursive: true });
    const marker = join(markerDirectory, context.idempotencyKey.replaceAll(':', '_'));
    if (!existsSync(marker)) {
      writeFileSync(marker, String(process.pid));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs);
    }
    return { crunchedBy: process.pid };
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

const models = { plan: ['openai:gpt-4.1-mini'], execute: ['openai:gpt-4.1-mini'] };
const input = z.object({ task: z.string() });

export default [
  defineAgent({ name: 'payments', instructions: 'Pay, check, answer.', input, tools: [pay, lookup], models }),
  defineAgent({ name: 'cruncher', instructions: 'Crunch, answer.', input, tools: [crunch], models }),
  defineAgent({ name: 'answer', instructions: 'Answer.', input, models }),
  defineAgent({ name: 'refunds', instructions: 'Refund, answer.', input, tools: [refund], models }),
];
