import { type Agent, defineAgent, defineTool } from '@plainloop/agent';
import type { LanguageModel } from '@plainloop/contracts';
import { scriptedModel } from '@plainloop/llm';
import { z } from 'zod';

/** Where the time of a step goes: each model call and each tool call, timed with `performance.now()`. */
export type CallProbe = {
  /**
   * Awaited at the start of each model call, inside its timed span, so what it does counts as model
   * time and not as the step's own (the history-growth scenario reads Redis's counters there).
   */
  modelStarting?(): Promise<void>;
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

/** Resolves after `ms`, or at once when `signal` aborts (the model then reports the abort itself). */
function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A model that answers after `latencyMs`, like a provider would: the scripted model's own latency
 * option does not listen to the call's signal, and a worker closing with thousands of calls waiting
 * must not wait them out.
 */
function slowModel(model: LanguageModel, latencyMs: number): LanguageModel {
  return {
    provider: model.provider,
    modelId: model.modelId,
    async doGenerate(options) {
      await waitOrAbort(latencyMs, options.signal);
      // An aborted call goes on to the scripted model, which throws the `aborted` error adapters throw.
      return model.doGenerate(options);
    },
  };
}

function timedModel(model: LanguageModel, probe: CallProbe): LanguageModel {
  return {
    provider: model.provider,
    modelId: model.modelId,
    async doGenerate(options) {
      const startedAt = performance.now();
      try {
        await probe.modelStarting?.();
        return await model.doGenerate(options);
      } finally {
        probe.model(startedAt, performance.now());
      }
    },
  };
}

type BenchAgentOptions = {
  /** Every model and tool call reports its start and end to it. */
  probe?: CallProbe;
  /** Steps per run (default `stepsPerRun`): the iteration limit ends each run after this step. */
  steps?: number;
  /** How long each model call waits before it answers (default 0: at once). */
  modelLatencyMs?: number;
};

/**
 * Runs of identical steps, three unless told otherwise: the iteration limit ends each run after its
 * last step. With a probe, every model and tool call reports its start and end, so a scenario can tell
 * the step machine's own time from the calls'.
 */
export function createBenchAgent(options: BenchAgentOptions = {}): Agent {
  const { probe, steps = stepsPerRun, modelLatencyMs = 0 } = options;
  const scripted = createBenchModel();
  const answering = modelLatencyMs > 0 ? slowModel(scripted, modelLatencyMs) : scripted;
  const model = probe ? timedModel(answering, probe) : answering;
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
    limits: { maxIterations: steps },
  });
}

/** The number of steps each bench run takes unless told otherwise. */
export const stepsPerRun = 3;
