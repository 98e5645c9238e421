import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineAgent, defineTool } from '@plainloop/agent';
import { z } from 'zod';

/**
 * A tool that is slow the first time it runs for a given call and fast on every replay. The test's
 * fake model server puts a marker directory in the arguments: the first run leaves a marker there,
 * so the test knows the model call was checkpointed and the tool is under way.
 */
const slowLookup = defineTool({
  name: 'slow_lookup',
  description: 'Look something up; slow the first time',
  input: z.object({ key: z.string(), markerDirectory: z.string(), firstRunDelayMs: z.int().min(0) }),
  timeoutMs: 120_000,
  async run({ key, markerDirectory, firstRunDelayMs }, context) {
    mkdirSync(markerDirectory, { recursive: true });
    const marker = join(markerDirectory, context.idempotencyKey.replaceAll(':', '_'));
    const replay = existsSync(marker);
    writeFileSync(join(markerDirectory, `started-${process.pid}`), key);
    if (!replay) {
      writeFileSync(marker, String(process.pid));
      await new Promise((resolve) => setTimeout(resolve, firstRunDelayMs));
    }
    return { key, value: `value of ${key}`, servedBy: process.pid };
  },
});

export default defineAgent({
  name: 'slow-lookup',
  instructions: 'Look the key up, then answer with what you found.',
  input: z.object({ key: z.string() }),
  tools: [slowLookup],
  models: { plan: ['openai:gpt-4.1-mini'], execute: ['openai:gpt-4.1-mini'] },
});
