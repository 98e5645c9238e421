/**
 * Baseline (b): the loop one would write by hand on BullMQ. One job per run; its processor does the
 * run's three steps, each the same scripted model call and the same tool call as the bench agent, and
 * saves the run's state with `job.updateData(state)` after each: no fencing, no events, no ledger, no
 * budgets, no recovery beyond BullMQ's own retry of the whole job.
 */
import type { AssistantMessage, Message, ToolMessage } from '@plainloop/contracts';
import { runJobOptions } from '@plainloop/redis';
import type { Job, Queue } from 'bullmq';
import { type CallProbe, createBenchModel, lookupRecord, stepsPerRun } from '../bench-agent.ts';
import { baselineQueue, startBaselineWorker } from './baseline-worker.ts';

const handRolledQueueName = 'bench-hand-rolled';

type LoopState = { index: number; step: number; messages: Message[] };

const tools = [
  {
    name: 'lookup',
    description: 'Return a fixed record',
    inputSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
  },
];

export async function enqueueHandRolledRuns(queue: Queue, runs: number): Promise<void> {
  for (let start = 0; start < runs; start += 1_000) {
    const count = Math.min(1_000, runs - start);
    await queue.addBulk(
      Array.from({ length: count }, (_, offset) => {
        const index = start + offset;
        const state: LoopState = {
          index,
          step: 0,
          messages: [
            { role: 'system', content: 'Look things up.' },
            { role: 'user', content: JSON.stringify({ index }) },
          ],
        };
        return { name: 'run', data: state, opts: { ...runJobOptions, jobId: `loop-${index}` } };
      }),
    );
  }
}

export async function startHandRolledWorker(
  url: string,
  prefix: string,
  concurrency: number,
  probe?: CallProbe,
): Promise<{ close(): Promise<void> }> {
  const model = createBenchModel();
  const signal = new AbortController().signal;
  async function processor(job: Job<LoopState>) {
    let state = job.data;
    while (state.step < stepsPerRun) {
      const modelStartedAt = performance.now();
      const answer = await model.doGenerate({ messages: state.messages, tools, timeoutMs: 60_000, signal });
      probe?.model(modelStartedAt, performance.now());
      const assistant: AssistantMessage = {
        role: 'assistant',
        content: answer.text,
        toolCalls: answer.toolCalls,
      };
      const results: ToolMessage[] = answer.toolCalls.map((call) => {
        const toolStartedAt = performance.now();
        const output = lookupRecord(JSON.parse(call.argumentsJson) as { key: string });
        probe?.tool(toolStartedAt, performance.now());
        return {
          role: 'tool',
          toolCallId: call.id,
          toolName: call.name,
          content: JSON.stringify(output),
          isError: false,
        };
      });
      state = { ...state, step: state.step + 1, messages: [...state.messages, assistant, ...results] };
      await job.updateData(state);
    }
    return { status: 'succeeded' };
  }
  return startBaselineWorker(handRolledQueueName, { url, prefix, concurrency }, processor);
}

export function handRolledQueue(connection: Queue['opts']['connection'], prefix: string): Queue {
  return baselineQueue(handRolledQueueName, connection, prefix);
}
