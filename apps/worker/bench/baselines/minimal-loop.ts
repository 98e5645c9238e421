/**
 * Baseline (c): the leanest loop one would write by hand on BullMQ. One job per run; its processor
 * does the run's three steps, each building the model's answer (one `lookup` tool call) inline, running
 * the tool and pushing both onto one plain array in the job's data, then `job.updateData(data)` once:
 * no model object, no message types, no copies of the state. The queue options and concurrency are the
 * hand-rolled loop's.
 */
import { runJobOptions } from '@plainloop/redis';
import type { Job, Queue } from 'bullmq';
import { lookupRecord, stepsPerRun } from '../bench-agent.ts';
import { baselineQueue, startBaselineWorker } from './baseline-worker.ts';

const minimalLoopQueueName = 'bench-minimal-loop';

type MinimalRun = { index: number; history: unknown[] };

export async function enqueueMinimalLoopRuns(queue: Queue, runs: number): Promise<void> {
  for (let start = 0; start < runs; start += 1_000) {
    const count = Math.min(1_000, runs - start);
    await queue.addBulk(
      Array.from({ length: count }, (_, offset) => {
        const index = start + offset;
        const data: MinimalRun = { index, history: [] };
        return { name: 'run', data, opts: { ...runJobOptions, jobId: `minimal-${index}` } };
      }),
    );
  }
}

export function startMinimalLoopWorker(url: string, prefix: string, concurrency: number) {
  async function processor(job: Job<MinimalRun>) {
    const data = job.data;
    for (let step = 0; step < stepsPerRun; step += 1) {
      const toolCall = { id: `call_${step}`, name: 'lookup', arguments: { key: `k${step}` } };
      data.history.push(
        { toolCalls: [toolCall] },
        { toolCallId: toolCall.id, result: lookupRecord(toolCall.arguments) },
      );
      await job.updateData(data);
    }
    return { status: 'succeeded' };
  }
  return startBaselineWorker(minimalLoopQueueName, { url, prefix, concurrency }, processor);
}

export function minimalLoopQueue(connection: Queue['opts']['connection'], prefix: string): Queue {
  return baselineQueue(minimalLoopQueueName, connection, prefix);
}
