import { defineAgent, defineTool } from '@plainloop/agent';
import type { LanguageModel } from '@plainloop/contracts';
import { scriptedModel } from '@plainloop/llm';
import { z } from 'zod';

/** Where the time of a step goes: each model call and each tool call, timed with `performance.now()`. */
export type CallProbe = {
  model(startedAt: number, endedAt: number): void;
  tool(startedAt: number, endedAt: number): void;
};

/** The tool's work: a fixed record (the hand-rolled baseline calls it too). */
export function lookupRecord({ key }: { key: string }): { key: string; value: number } {
  return { key, value: 42 };
}

/** Every step: one scripted model call (no simulated latency) that asks for one tool call. */
export function createBenchModel(): LanguageModel {
  return scriptedModel({
    name: 'bench',
    script: ({ turn }) => ({ toolCalls: [{ name: 'lookup', arguments: { key: `k${turn}` } }] }),
  });
}

function timedModel(model: LanguageModel, probe: CallProbe): LanguageModel {
  return {
    provider: model.provider,
    modelId: model.modelId,
    async doGenerate(options) {
      const startedAt = performance.now();
      try {
        return await model.doGenerate(options);
      } finally {
        probe.model(startedAt, performance.now());
      }
    },
  };
}

/**
 * Runs of exactly three identical steps: the iteration limit ends each run after its third step. With a
 * probe, every model and tool call reports its start and end, so a scenario can tell the step machine's
 * own time from the calls'.
 */
export function createBenchAgent(probe?: CallProbe) {
  const model = probe ? timedModel(createBenchModel(), probe) : createBenchModel();
  const lookup = defineTool({
    name: 'lookup',
    description: 'Return a fixed record',
    input: z.object({ key: z.string() }),
    idempotent: true,
    run: (input) => {
      if (!probe) return lookupRecord(input);
      const startedAt = performance.now();
      const record = lookupRecord(input);
      probe.tool(startedAt, performance.now());
      return record;
    },
  });
  return defineAgent({
    name: 'bench',
    instructions: 'Look things up.',
    input: z.object({ index: z.int() }),
    tools: [lookup],
    models: { plan: [model], execute: [model] },
    limits: { maxIterations: 3 },
  });
}

/** The number of steps each bench run takes. */
export const stepsPerRun = 3;
