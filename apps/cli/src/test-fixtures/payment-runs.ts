/**
 * The chaos tests' load: payment runs of `chaos-agents.ts`, submitted as the API submits them, and what
 * they tell afterwards: the runs' states, the side effects the payment tool recorded outside Redis,
 * and each run's ledger against its totals.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { submitRun } from '@plainloop/agent';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { createRunQueue, type KeySchema, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import type { FakeProviderServer } from '@plainloop/testing';
import type { Queue } from 'bullmq';
import { expect } from 'vitest';
import { chaosModel } from './chaos-model.ts';
import { type Fleet, startFleet, waitFor } from './fleet-harness.ts';

const logger = createLogger({ service: 'chaos', level: 'silent' });
const ended = ['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations'];

export type PaymentHarness = { queue: Queue; store: RunStore };

/** The run queue and store of `keys` on `producer` (the caller closes the queue). */
export function paymentHarness(producer: RedisConnection, keys: KeySchema): PaymentHarness {
  return { queue: createRunQueue(producer, keys), store: new RunStore(producer, keys) };
}

export async function submitPayments(harness: PaymentHarness, count: number): Promise<string[]> {
  const runIds: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const request = RunRequest.parse({ agent: 'payments', input: { task: `payment ${index}` } });
    const submitted = await submitRun({ ...harness, logger }, request, Date.now());
    runIds.push(submitted.state.runId);
  }
  return runIds;
}

export async function loadAll(harness: PaymentHarness, runIds: string[]): Promise<RunState[]> {
  return (await Promise.all(runIds.map((runId) => harness.store.load('default', runId)))).filter(
    (state): state is RunState => state !== undefined,
  );
}

export const finished = (states: RunState[]) => states.filter((state) => ended.includes(state.status));

/** What the payment side effects tell: executions per idempotency key. */
export function effectsIn(directory: string): number[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).map(
    (name) => readFileSync(join(directory, name), 'utf8').trim().split('\n').length,
  );
}

/** Every run's ledger against its totals: one entry per distinct model call, costs that add up. */
export async function checkLedgers(harness: PaymentHarness, states: RunState[]): Promise<number> {
  let entries = 0;
  for (const state of states) {
    const calls = await harness.store.loadModelCalls('default', state.runId);
    expect(new Set(calls.map((call) => call.callId)).size).toBe(calls.length);
    expect(calls).toHaveLength(state.llmCalls);
    expect(calls.reduce((sum, call) => sum + call.costUsd, 0)).toBeCloseTo(state.costUsd, 12);
    entries += calls.length;
  }
  return entries;
}

const agentsPath = new URL('./chaos-agents.ts', import.meta.url).pathname;

/**
 * Worker processes of the payment agents on `redisUrl`, answered by `model` with the chaos model
 * (`delayMs` a call), started and registered with the run queue before it returns. The payments'
 * side effects land in `effectsDirectory`, outside Redis.
 */
export async function startPaymentFleet(options: {
  redisUrl: string;
  prefix: string;
  model: FakeProviderServer;
  queue: Queue;
  workers: readonly string[];
  delayMs: number;
  environment?: Record<string, string>;
}): Promise<{ fleet: Fleet; effectsDirectory: string }> {
  const { model, queue, workers } = options;
  const fleet = await startFleet({
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    agentsPath,
    environment: {
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: model.baseUrl,
      PLAINLOOP_MAX_STALLED_COUNT: '50',
      ...options.environment,
    },
  });
  const effectsDirectory = join(fleet.directory, 'effects');
  model.respondWith(
    chaosModel({
      effectsDirectory,
      markerDirectory: join(fleet.directory, 'markers'),
      delayMs: options.delayMs,
    }),
  );
  for (const name of workers) fleet.startWorker(name);
  await waitFor('the workers', async () =>
    (await queue.getWorkersCount()) >= workers.length ? true : undefined,
  );
  return { fleet, effectsDirectory };
}

/** Waits until every run has ended, and returns their states. */
export function waitForAllEnded(
  harness: PaymentHarness,
  runIds: string[],
  timeoutMs: number,
): Promise<RunState[]> {
  return waitFor(
    'every run to finish',
    async () => {
      const all = await loadAll(harness, runIds);
      return finished(all).length === runIds.length ? all : undefined;
    },
    timeoutMs,
  );
}
