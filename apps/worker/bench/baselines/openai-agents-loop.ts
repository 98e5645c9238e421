/**
 * Baseline (d): the same 3-step loop with `@openai/agents`, in memory. A zero-latency `Model` answers
 * every call with one function call to a `lookup` tool (the SDK's `tool()`, a zod schema), which returns
 * the bench agent's record. No BullMQ, no Redis, no OpenAI client, no network and no tracing: what the
 * SDK's own run loop costs a step on this machine, the lower bound of any agent built on it.
 *
 * A run ends on the SDK's max-turns limit (`maxTurns: 3`), which its `errorHandlers.maxTurns` turns into
 * the run's final output: three model calls, each answered by one tool run, and no fourth model call
 * for a final text (which plainloop's bench agent does not make either). The loop counts both kinds of
 * call so the child can refuse a run that took another shape.
 */
import {
  Agent,
  type AgentInputItem,
  type FunctionCallItem,
  type Model,
  type ModelRequest,
  type ModelResponse,
  Runner,
  type StreamEvent,
  setTracingDisabled,
  tool,
  Usage,
} from '@openai/agents';
import { z } from 'zod';
import { lookupRecord, stepsPerRun } from '../bench-agent.ts';
import { createSteadyRateMeter } from '../steady-rate.ts';

/** How often the loop called the model and ran the tool, over every run so far. */
type OpenAiAgentsCalls = { model: number; tool: number };

function toolResultsIn(input: string | AgentInputItem[]): number {
  if (typeof input === 'string') return 0;
  let results = 0;
  for (const item of input) if (item.type === 'function_call_result') results += 1;
  return results;
}

/**
 * Answers at once, every time, with one call to `lookup`, its key numbered by the turn (the tool results
 * so far) like the scripted model's.
 */
function lookupCallingModel(calls: OpenAiAgentsCalls): Model {
  let callIds = 0;
  const lookupCall = (request: ModelRequest): FunctionCallItem => {
    calls.model += 1;
    callIds += 1;
    return {
      type: 'function_call',
      callId: `call_${callIds}`,
      name: 'lookup',
      arguments: JSON.stringify({ key: `k${toolResultsIn(request.input)}` }),
      status: 'completed',
    };
  };
  return {
    async getResponse(request): Promise<ModelResponse> {
      return { usage: new Usage(), output: [lookupCall(request)] };
    },
    // The runner does not stream here; the interface asks for it all the same.
    async *getStreamedResponse(request): AsyncIterable<StreamEvent> {
      const call = lookupCall(request);
      yield {
        type: 'response_done',
        response: {
          id: `response_${callIds}`,
          usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
          output: [call],
        },
      };
    },
  };
}

/** The agent, its runner and the call counts; `run` does one run of `stepsPerRun` steps. */
function createOpenAiAgentsLoop(): { run(index: number): Promise<void>; calls: OpenAiAgentsCalls } {
  // Off both globally and on the runner: no trace or span is built, none is exported.
  setTracingDisabled(true);
  const calls: OpenAiAgentsCalls = { model: 0, tool: 0 };
  const lookup = tool({
    name: 'lookup',
    description: 'Return a fixed record',
    parameters: z.object({ key: z.string() }),
    execute: (input) => {
      calls.tool += 1;
      return lookupRecord(input);
    },
  });
  const agent = new Agent({
    name: 'bench',
    instructions: 'Look things up.',
    model: lookupCallingModel(calls),
    tools: [lookup],
  });
  const runner = new Runner({ tracingDisabled: true });
  return {
    calls,
    async run(index) {
      await runner.run(agent, JSON.stringify({ index }), {
        maxTurns: stepsPerRun,
        // The limit is how the run ends, not a failure: the run resolves with this as its output.
        errorHandlers: { maxTurns: () => ({ finalOutput: 'done', includeInHistory: false }) },
      });
    },
  };
}

/** Does `runs` runs with `concurrency` of them in flight at once (a pool of that many lanes). */
async function runPool(
  loop: { run(index: number): Promise<void> },
  runs: number,
  concurrency: number,
  runDone: () => void,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < runs) {
      const index = next;
      next += 1;
      await loop.run(index);
      runDone();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, lane));
}

/**
 * Starts `runs` runs, `concurrency` in flight, and tells `finished` its steady rate (runs/s) and its
 * seconds from start to the last run; `close` waits for the runs. A run that did not take exactly
 * `stepsPerRun` model calls and tool runs fails it: the comparison would be of different work.
 */
export function startOpenAiAgentsRuns(
  runs: number,
  concurrency: number,
  finished: (report: { steadyRate: number; seconds: number }) => void,
): { close(): Promise<void> } {
  const loop = createOpenAiAgentsLoop();
  const steady = createSteadyRateMeter(runs);
  const startedAt = performance.now();
  let done = 0;
  const running = runPool(loop, runs, concurrency, () => {
    done += 1;
    steady.observe(performance.now(), done);
  }).then(() => {
    const seconds = (performance.now() - startedAt) / 1000;
    const expected = runs * stepsPerRun;
    if (loop.calls.model !== expected || loop.calls.tool !== expected)
      throw new Error(
        `@openai/agents: ${loop.calls.model} model calls and ${loop.calls.tool} tool runs for ${runs} runs, not ${expected} of each`,
      );
    finished({ steadyRate: steady.rate(), seconds });
  });
  return { close: () => running };
}
