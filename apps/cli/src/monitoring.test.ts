import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { submitRun } from '@plainloop/agent';
import { buildApi } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { RunRequest, type RunState } from '@plainloop/contracts';
import { createRunQueue, type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  countShardEvents,
  type FakeProviderServer,
  type FakeTelegramServer,
  type MetricSample,
  sampleValue,
  scrape,
  startFakeOpenAIServer,
  startFakeTelegramServer,
  sumOf,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FleetProcess, freePort, startPlainloopProcess, stopProcesses } from './demo/fleet-processes.ts';
import { type Fleet, startFleet } from './test-fixtures/fleet-harness.ts';
import { monitoringModel } from './test-fixtures/monitoring-model.ts';
import { type PrometheusServer, startPrometheus } from './test-fixtures/prometheus-server.ts';

const repository = new URL('../../../', import.meta.url).pathname;
const agentsPath = new URL('./test-fixtures/monitoring-agents.ts', import.meta.url).pathname;
const logger = createLogger({ service: 'test', level: 'silent' });
const terminal = ['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations'];

/** Secrets handed to every process; none may appear in any log line. */
const planted = {
  OPENAI_API_KEY: 'sk-planted-openai-5f1d3c9a7b',
  ANTHROPIC_API_KEY: 'sk-ant-planted-anthropic-8e2b',
  GEMINI_API_KEY: 'planted-gemini-key-0c4d6e',
  TELEGRAM_BOT_TOKEN: '424242:planted-telegram-token-9a8b',
};

/** Every metric name the README's metric table documents. */
async function documentedMetrics(): Promise<Array<{ name: string; type: string }>> {
  const readme = await readFile(join(repository, 'README.md'), 'utf8');
  return [...readme.matchAll(/^\| `(plainloop_[a-z_]+)`\s*\| (\w+)/gm)].map((match) => ({
    name: match[1] as string,
    type: match[2] as string,
  }));
}

function hasSample(samples: readonly MetricSample[], name: string, type: string): boolean {
  const sampleName = type === 'histogram' ? `${name}_bucket` : name;
  return samples.some((sample) => sample.name === sampleName);
}

async function logLines(files: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const file of files) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return lines;
}

describe('monitoring a fleet under load', { timeout: 180_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let queue: Queue;
  let store: RunStore;
  let model: FakeProviderServer;
  let telegram: FakeTelegramServer;
  let fleet: Fleet;
  let metricsProcess: FleetProcess;
  let metricsUrl: string;
  let prometheus: PrometheusServer | undefined;
  let api: FastifyInstance;
  const modelState = { flakyIsDown: true };
  const runs: RunState[] = [];
  let midRun: { runCostUsd: number; tenantCostUsd: number; scrapedCostUsd: number };

  /**
   * The steady agent's runs belong to globex, which has a daily budget; the rest to acme, which has
   * none (under a budget, the unpriced models those runs call would be refused).
   */
  const tenantOf = new Map<string, string>();
  async function submit(agent: string, plan: string, limits?: Record<string, number>): Promise<string> {
    const tenantId = agent === 'steady' ? 'globex' : 'acme';
    const request = RunRequest.parse({
      agent,
      input: { plan },
      tenantId,
      ...(limits ? { limits } : {}),
    });
    const submitted = await submitRun({ store, queue, logger }, request, Date.now());
    tenantOf.set(submitted.state.runId, tenantId);
    return submitted.state.runId;
  }
  const settled = (runId: string, timeoutMs = 60_000) =>
    waitFor(
      `run ${runId} to finish`,
      async () => {
        const state = await store.load(tenantOf.get(runId) ?? 'acme', runId);
        return state && terminal.includes(state.status) ? state : undefined;
      },
      timeoutMs,
    );

  function startMetricsProcess(name: string): FleetProcess {
    return startPlainloopProcess(
      name,
      ['metrics', '--port', metricsUrl.split(':').at(-1) as string],
      {
        PATH: process.env.PATH,
        REDIS_URL: redis.url,
        PLAINLOOP_REDIS_PREFIX: redis.prefix,
        PLAINLOOP_METRICS_CONSUMER: 'metrics-under-test',
        PLAINLOOP_ALERT_EVALUATE_MS: '200',
        PLAINLOOP_ALERT_MIN_SAMPLES: '5',
        TELEGRAM_CHAT_ID: '-1001',
        PLAINLOOP_TENANT_DAILY_BUDGETS: '{"globex":100}',
        TELEGRAM_API_URL: telegram.baseUrl,
        ...planted,
      },
      fleet.directory,
    );
  }

  beforeAll(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    queue = createRunQueue(producer, redis.keys);
    store = new RunStore(producer, redis.keys);
    model = await startFakeOpenAIServer();
    model.respondWith(monitoringModel(modelState));
    telegram = await startFakeTelegramServer();
    // The first alert message fails: the retry must not leak the token that is part of its URL.
    telegram.failNext({ status: 500 });
    fleet = await startFleet({
      redisUrl: redis.url,
      prefix: redis.prefix,
      agentsPath,
      environment: {
        ...planted,
        OPENAI_BASE_URL: model.baseUrl,
        PLAINLOOP_BREAKER_COOLDOWN_MS: '3000',
        PLAINLOOP_PRICES_FILE: new URL('./test-fixtures/monitoring-prices.json', import.meta.url).pathname,
        PLAINLOOP_TENANT_DAILY_BUDGETS: '{"globex":100}',
      },
    });
    fleet.startWorker('worker-1');
    fleet.startWorker('worker-2');
    metricsUrl = `http://127.0.0.1:${await freePort()}`;
    metricsProcess = startMetricsProcess('metrics');
    await waitFor('the metrics process', async () =>
      (await fetch(`${metricsUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined,
    );
    prometheus = await startPrometheus({
      target: metricsUrl.replace('http://', ''),
      ruleFiles: [join(repository, 'ops/prometheus/alerts.yml')],
    });
    // Prometheus applies its targets a few seconds after it starts: the load begins once it scrapes.
    await waitFor('prometheus to scrape the metrics process', async () =>
      ((await prometheus?.query('up == 1')) ?? []).length > 0 ? true : undefined,
    );
    api = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: redis.connect('producer'),
      logger,
      authentication: { insecure: true },
    });
    await waitFor('workers to publish their agents', async () =>
      (await producer.hlen(redis.keys.agents)) >= 4 ? true : undefined,
    );

    // Flaky fails three times: its breaker opens, the call falls back to steady.
    runs.push(await settled(await submit('helper', 'lookup')));
    // While the breaker is open, a run that has only flaky waits for it; flaky recovers, a probe closes it.
    const waiting = await submit('flaky-only', 'answer');
    await sleep(500);
    modelState.flakyIsDown = false;
    const concurrent = await Promise.all([
      submit('helper', 'lookup'),
      submit('helper', 'fragile'),
      submit('broken', 'answer'),
      submit('broken', 'answer'),
      submit('helper', 'lookup', { maxCostUsd: 0.000001 }),
      submit('steady', 'answer'),
      submit('steady', 'lookup'),
    ]);
    // A slow tool call: the run's and the tenant's cost are readable while it is still going.
    const slow = await submit('steady', 'slow');
    await waitFor('the slow run to be in its tool call', async () => {
      const state = await store.load('globex', slow);
      return state?.pending && state.status === 'running' ? true : undefined;
    });
    await sleep(600);
    const asGlobex = { 'x-plainloop-tenant': 'globex' };
    const runResponse = await api.inject({ method: 'GET', url: `/v1/runs/${slow}`, headers: asGlobex });
    const costResponse = await api.inject({ method: 'GET', url: '/v1/cost', headers: asGlobex });
    const samples = await scrape(metricsUrl);
    midRun = {
      runCostUsd: runResponse.json().costUsd,
      tenantCostUsd: costResponse.json().costUsd,
      // The steady agent runs for globex alone, so its cost on /metrics is globex's.
      scrapedCostUsd: samples
        .filter(
          (sample) => sample.name === 'plainloop_llm_cost_usd_total' && sample.labels.agent === 'steady',
        )
        .reduce((total, sample) => total + sample.value, 0),
    };
    expect((await store.load('globex', slow))?.status).toBe('running');
    for (const runId of [waiting, ...concurrent, slow]) runs.push(await settled(runId));
    await waitFor('the metrics process to catch up', async () => {
      const latest = await scrape(metricsUrl);
      return sampleValue(latest, 'plainloop_event_consumer_lag') === 0 &&
        sampleValue(latest, 'plainloop_event_consumer_pending') === 0 &&
        sumOf(latest, 'plainloop_runs_finished_total') === runs.length
        ? true
        : undefined;
    });
  });

  afterAll(async () => {
    await api?.close();
    await prometheus?.stop();
    await stopProcesses(metricsProcess ? [metricsProcess] : [], 2_000);
    await fleet?.stop();
    await queue?.close();
    await model?.close();
    await telegram?.close();
    await redis?.close();
  });

  it('ran the mix the metrics must show', () => {
    const statuses = runs.map((run) => `${run.agent}:${run.status}`).sort();
    expect(statuses).toEqual(
      [
        'broken:failed',
        'broken:failed',
        'flaky-only:succeeded',
        'helper:budget_exceeded',
        'helper:succeeded',
        'helper:succeeded',
        'helper:succeeded',
        'steady:succeeded',
        'steady:succeeded',
        'steady:succeeded',
      ].sort(),
    );
  });

  it('serves every metric the README documents, with the counts of what happened', async () => {
    const samples = await scrape(metricsUrl);
    const documented = await documentedMetrics();
    expect(documented.length).toBeGreaterThanOrEqual(25);
    const missing = documented
      .filter(({ name, type }) => !hasSample(samples, name, type))
      .map(({ name }) => name);
    expect(missing).toEqual([]);

    expect(sampleValue(samples, 'plainloop_runs_finished_total', { agent: 'broken', status: 'failed' })).toBe(
      2,
    );
    expect(
      sampleValue(samples, 'plainloop_runs_finished_total', { agent: 'helper', status: 'budget_exceeded' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'plainloop_budget_stops_total', { agent: 'helper', budget: 'run_cost_usd' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'plainloop_breaker_transitions_total', { model: 'flaky', transition: 'opened' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(samples, 'plainloop_breaker_transitions_total', { model: 'flaky', transition: 'closed' }),
    ).toBe(1);
    expect(sampleValue(samples, 'plainloop_breaker_state', { provider: 'openai', model: 'flaky' })).toBe(0);
    expect(sampleValue(samples, 'plainloop_tools_disabled_total', { agent: 'helper', tool: 'fragile' })).toBe(
      1,
    );
    expect(
      sampleValue(samples, 'plainloop_tool_errors_total', {
        agent: 'helper',
        tool: 'fragile',
        code: 'upstream_down',
      }),
    ).toBe(3);
    // The run waits at least once for the breaker (again if it comes back before the probe closed it),
    // and each wait ends with the run taken up again.
    const waits = sampleValue(samples, 'plainloop_runs_waiting_total', {
      agent: 'flaky-only',
      reason: 'breaker_open',
    });
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'plainloop_runs_resumed_total', { agent: 'flaky-only' })).toBe(waits);
    // Model calls and their cost on /metrics are the sums of the runs' own ledgers.
    const ledgered = runs.reduce((total, run) => total + run.llmCalls, 0);
    const succeeded = samples
      .filter(
        (sample) => sample.name === 'plainloop_llm_requests_total' && sample.labels.outcome === 'success',
      )
      .reduce((total, sample) => total + sample.value, 0);
    expect(succeeded).toBe(ledgered);
    const cost = runs.reduce((total, run) => total + run.costUsd, 0);
    expect(sumOf(samples, 'plainloop_llm_cost_usd_total')).toBeCloseTo(cost, 9);
    expect(sumOf(samples, 'plainloop_events_total')).toBe(await countShardEvents(producer, redis.keys));
    // The tenant's budget gauge reads the budget's own ledger, which the workers settled call by call.
    const globexCost = runs
      .filter((run) => run.tenantId === 'globex')
      .reduce((total, run) => total + run.costUsd, 0);
    expect(globexCost).toBeGreaterThan(0);
    expect(sampleValue(samples, 'plainloop_tenant_budget_used_ratio', { tenant: 'globex' })).toBeCloseTo(
      globexCost / 100,
      9,
    );
  });

  it("shows a run's and the tenant's cost while the run is still going", () => {
    expect(midRun.runCostUsd).toBeGreaterThan(0);
    expect(midRun.tenantCostUsd).toBeGreaterThan(0);
    expect(midRun.scrapedCostUsd).toBeCloseTo(midRun.tenantCostUsd, 9);
  });

  it('logs every input, model call, tool call and output as JSON lines with run, step, agent and tenant', async () => {
    const lines = await logLines(fleet.workers.map((worker) => worker.logFile));
    const run = runs.find(
      (each) => each.agent === 'steady' && each.status === 'succeeded' && each.toolCalls > 0,
    );
    const ofRun = lines.filter((line) => line.runId === run?.runId);
    const byEvent = (event: string) => ofRun.filter((line) => line.event === event);
    for (const event of ['run.started', 'step.started', 'llm.called', 'tool.called', 'run.finished']) {
      expect(byEvent(event).length, event).toBeGreaterThan(0);
      for (const line of byEvent(event)) {
        expect(line).toMatchObject({ agent: 'steady', tenantId: 'globex', step: expect.any(Number) });
      }
    }
    expect(byEvent('run.started')[0]).toMatchObject({ input: { plan: expect.any(String) } });
    expect(byEvent('llm.called')[0]).toMatchObject({
      usage: { inputTokens: 400, outputTokens: 60 },
      latencyMs: expect.any(Number),
      costUsd: expect.any(Number),
    });
    expect(byEvent('tool.called')[0]).toMatchObject({
      tool: 'lookup',
      arguments: { topic: 'redis' },
      latencyMs: expect.any(Number),
    });
    expect(byEvent('run.finished')[0]).toMatchObject({ status: 'succeeded', output: 'answered by steady' });
    const failure = lines.find((line) => line.event === 'llm.failed' && line.agent === 'broken');
    expect(failure).toMatchObject({ level: 'warn', error: { code: 'llm_auth' }, err: expect.any(Object) });
  });

  it('never writes a secret to any log line, not even one a provider error quotes back', async () => {
    const files = [...fleet.workers.map((worker) => worker.logFile), metricsProcess.logFile];
    const text = (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n');
    // The secrets were in use: the 401 quoted the key, and the alert retried a failed Telegram call.
    expect(text).toContain('Incorrect API key provided: [redacted]');
    expect(telegram.requests.length).toBeGreaterThanOrEqual(2);
    for (const [name, secret] of Object.entries(planted)) {
      expect(text.includes(secret), `${name} appears in a log`).toBe(false);
      expect(text.includes(secret.slice(0, 12)), `a prefix of ${name} appears in a log`).toBe(false);
    }
  });

  it('gives data for every query of the Grafana dashboard from a real Prometheus, which loads the alert rules', async () => {
    const server = prometheus as PrometheusServer;
    // Two more scrapes after the last event, so every rate has its final points.
    await sleep(2_500);
    const dashboard = JSON.parse(
      await readFile(join(repository, 'ops/grafana/dashboards/plainloop.json'), 'utf8'),
    ) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const empty: string[] = [];
    let queries = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        queries += 1;
        const expression = target.expr.replaceAll('$__rate_interval', '1m');
        const result = await server.query(expression);
        const numbers = result.filter(({ value }) => !Number.isNaN(Number(value[1])));
        if (numbers.length === 0) empty.push(`${panel.title}: ${expression}`);
      }
    }
    expect(queries).toBeGreaterThan(25);
    expect(empty).toEqual([]);
    const groups = await server.rules();
    const rules = groups.flatMap((group) => group.rules);
    expect(rules.length).toBeGreaterThanOrEqual(7);
    expect(rules.filter((rule) => rule.health !== 'ok')).toEqual([]);
    process.stdout.write(
      `monitoring: ${runs.length} runs, ${queries} dashboard queries answered by Prometheus, ${rules.length} alert rules loaded\n`,
    );
  });
});
