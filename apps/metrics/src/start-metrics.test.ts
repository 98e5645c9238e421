import { setTimeout as sleep } from 'node:timers/promises';
import { TenantBudget } from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import type { RunEvent } from '@plainloop/contracts';
import { withPlainloopScripts } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import {
  type FakeTelegramServer,
  sampleValue,
  scrape,
  startFakeTelegramServer,
  sumOf,
  type TestRedis,
  useTestRedis,
  waitFor,
} from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metricsGroup } from './event-consumer.ts';
import { type RunningMetrics, startMetrics } from './start-metrics.ts';

const logger = createLogger({ service: 'test', level: 'silent' });

type Draft = { type: RunEvent['type'] } & Record<string, unknown>;
let runCounter = 0;
function eventOf(draft: Draft, runId = `run-${runCounter}`): RunEvent {
  return { runId, tenantId: 'acme', agent: 'helper', at: Date.now(), step: 0, ...draft } as RunEvent;
}

const usage = { inputTokens: 100, cachedInputTokens: 40, outputTokens: 20, reasoningTokens: 0 };
const error = (code: string) => ({ code, message: 'it went wrong', retryable: false });

describe('the metrics process', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  const started: RunningMetrics[] = [];
  let telegram: FakeTelegramServer;

  beforeEach(async () => {
    redis = await useTestRedis();
    telegram = await startFakeTelegramServer();
    runCounter += 1;
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((running) => running.close()));
    await telegram.close();
    await redis.close();
  });

  async function start(environment: Record<string, string> = {}): Promise<RunningMetrics> {
    const config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_METRICS_PORT: '0',
      PLAINLOOP_METRICS_CONSUMER: 'metrics-test',
      ...environment,
    });
    const running = await startMetrics({ config, redisUrl: redis.url, logger });
    started.push(running);
    return running;
  }

  /** The stream of the shard of the test's runs (every event here is of one run). */
  const streamOf = (event: RunEvent) => redis.keys.shard(redis.keys.run(event.tenantId, event.runId).shard);

  /** Writes events as a checkpoint does: one entry of the run's shard's stream, one JSON line each. */
  async function append(...events: RunEvent[]): Promise<void> {
    const [first] = events;
    if (first === undefined) return;
    await redis.client.xadd(
      streamOf(first).events,
      '*',
      'events',
      events.map((each) => JSON.stringify(each)).join('\n'),
    );
  }

  /** Each event in an entry of its own, as checkpoints of one event each write them. */
  async function publish(...drafts: Draft[]): Promise<void> {
    for (const draft of drafts) await append(eventOf(draft));
  }

  it('counts every event of an entry that holds many (a commit call of many runs), once', async () => {
    const running = await start();
    await append(
      eventOf({ type: 'run.started', attempt: 1 }),
      eventOf({ type: 'step.started', tier: 'plan' }, 'run-other'),
      eventOf({ type: 'step.started', tier: 'plan' }),
    );
    await waitFor('3 events applied', () => (running.consumer.applied >= 3 ? true : undefined));
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_steps_total', { agent: 'helper', tier: 'plan' })).toBe(2);
    expect(sumOf(samples, 'plainloop_events_total')).toBe(3);
  });

  it('after an upgrade, counts what is left in the global stream from before shards, and keeps its totals', async () => {
    // The deployment before shards: one global stream, its group, and what its metrics process counted.
    const legacy = redis.keys.legacy;
    await redis.client.xadd(
      legacy.events,
      '*',
      'event',
      JSON.stringify(eventOf({ type: 'run.started', attempt: 1 })),
    );
    await redis.client.xgroup('CREATE', legacy.events, metricsGroup, '0');
    await redis.client.xadd(
      legacy.events,
      '*',
      'event',
      JSON.stringify(eventOf({ type: 'run.started', attempt: 1 })),
    );
    await redis.client.hset(legacy.metrics.totals, 'plainloop_runs_started_total|["helper"]', '5');
    const running = await start();
    await publish({ type: 'run.started', attempt: 1 });
    await waitFor('3 events applied', () => (running.consumer.applied >= 3 ? true : undefined));
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_runs_started_total', { agent: 'helper' })).toBe(8);
  });

  it('turns run events into counters and histograms, and serves them on /metrics', async () => {
    const running = await start();
    await publish(
      { type: 'run.started', attempt: 1 },
      { type: 'step.started', tier: 'plan' },
      {
        type: 'llm.failed',
        tier: 'plan',
        model: 'openai:gpt-x',
        error: error('llm_rate_limited'),
        latencyMs: 300,
        attempt: 1,
        willRetry: true,
      },
      {
        type: 'llm.called',
        tier: 'plan',
        model: 'openai:gpt-x',
        fallback: true,
        callId: 'call-1',
        finishReason: 'tool_calls',
        toolCalls: 1,
        usage,
        costUsd: 0.0125,
        costKnown: true,
        latencyMs: 1_500,
      },
      { type: 'tool.called', tool: 'search', callId: 't1', latencyMs: 30 },
      { type: 'tool.failed', tool: 'search', callId: 't2', error: error('tool_timeout'), latencyMs: 5_000 },
      {
        type: 'budget.exceeded',
        budget: 'run_cost_usd',
        limit: 0.01,
        spent: 0.0125,
      },
      {
        type: 'run.finished',
        status: 'budget_exceeded',
        steps: 1,
        usage,
        costUsd: 0.0125,
        durationMs: 2_000,
        error: error('budget_exceeded'),
      },
    );
    await waitFor('8 events applied', () => (running.consumer.applied >= 8 ? true : undefined));
    const samples = await scrape(running.url);
    const model = { provider: 'openai', model: 'gpt-x' };

    expect(sampleValue(samples, 'plainloop_runs_started_total', { agent: 'helper' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_steps_total', { agent: 'helper', tier: 'plan' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_llm_requests_total', { ...model, outcome: 'success' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_llm_requests_total', { ...model, outcome: 'rate_limited' })).toBe(
      1,
    );
    expect(sampleValue(samples, 'plainloop_llm_fallbacks_total', { ...model, tier: 'plan' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_llm_cost_usd_total', { ...model, agent: 'helper' })).toBeCloseTo(
      0.0125,
    );
    expect(sampleValue(samples, 'plainloop_llm_tokens_total', { ...model, kind: 'input' })).toBe(100);
    expect(sampleValue(samples, 'plainloop_llm_tokens_total', { ...model, kind: 'cached_input' })).toBe(40);
    expect(
      sampleValue(samples, 'plainloop_llm_tokens_total', { ...model, kind: 'reasoning' }),
    ).toBeUndefined();
    // Histograms are cumulative: the 0.3 s failure is under 0.5, both calls are under 2.
    const latency = 'plainloop_llm_request_duration_seconds_bucket';
    expect(sampleValue(samples, latency, { ...model, le: '0.25' })).toBe(0);
    expect(sampleValue(samples, latency, { ...model, le: '0.5' })).toBe(1);
    expect(sampleValue(samples, latency, { ...model, le: '2' })).toBe(2);
    expect(sampleValue(samples, latency, { ...model, le: '+Inf' })).toBe(2);
    expect(sampleValue(samples, 'plainloop_llm_request_duration_seconds_sum', model)).toBeCloseTo(1.8);
    expect(sampleValue(samples, 'plainloop_tool_calls_total', { tool: 'search', outcome: 'error' })).toBe(1);
    expect(
      sampleValue(samples, 'plainloop_tool_errors_total', { tool: 'search', code: 'tool_timeout' }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'plainloop_errors_total', { component: 'llm', code: 'llm_rate_limited' }),
    ).toBe(1);
    expect(sampleValue(samples, 'plainloop_budget_stops_total', { budget: 'run_cost_usd' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_runs_finished_total', { status: 'budget_exceeded' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_run_duration_seconds_count', { status: 'budget_exceeded' })).toBe(
      1,
    );
    expect(sampleValue(samples, 'plainloop_events_total', { type: 'llm.called' })).toBe(1);
    expect(sampleValue(samples, 'plainloop_queue_jobs', { queue: 'plainloop-runs', state: 'waiting' })).toBe(
      0,
    );
    expect(sampleValue(samples, 'plainloop_event_consumer_lag')).toBe(0);
    // The tenant label is off by default, to bound cardinality.
    expect(
      samples.some((sample) => sample.name === 'plainloop_llm_cost_usd_total' && 'tenant' in sample.labels),
    ).toBe(false);
  });

  it('labels cost by tenant when configured, and keeps each tenant’s cost of the day', async () => {
    const running = await start({ PLAINLOOP_METRICS_TENANT_LABEL: 'true' });
    const called = {
      type: 'llm.called' as const,
      tier: 'execute',
      model: 'openai:gpt-x',
      fallback: false,
      callId: 'c',
      finishReason: 'stop',
      toolCalls: 0,
      usage,
      costUsd: 0.5,
      costKnown: true,
      latencyMs: 10,
    };
    await append(eventOf(called));
    await append({ ...eventOf(called), tenantId: 'globex', costUsd: 0.25 } as RunEvent);
    await waitFor('2 events applied', () => (running.consumer.applied >= 2 ? true : undefined));
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_llm_cost_usd_total', { tenant: 'acme' })).toBe(0.5);
    expect(sampleValue(samples, 'plainloop_llm_cost_usd_total', { tenant: 'globex' })).toBe(0.25);
    const day = new Date().toISOString().slice(0, 10);
    const globex = { ...eventOf(called), tenantId: 'globex' } as RunEvent;
    expect(Number(await redis.client.hget(streamOf(globex).metrics.tenantCost, `${day}|globex`))).toBe(0.25);
  });

  it('applies an event once though it is delivered again after the process that read it died', async () => {
    await publish({ type: 'run.started', attempt: 1 }, { type: 'run.started', attempt: 1 });
    const shard = streamOf(eventOf({ type: 'run.started' }));
    // A metrics process read both events and died before it applied them: they are pending for it.
    await redis.client.xgroup('CREATE', shard.events, metricsGroup, '0', 'MKSTREAM');
    const read = (await redis.client.xreadgroup(
      'GROUP',
      metricsGroup,
      'metrics-test',
      'STREAMS',
      shard.events,
      '>',
    )) as Array<[string, Array<[string, string[]]>]>;
    expect(read[0]?.[1]).toHaveLength(2);

    const running = await start();
    await publish({ type: 'run.started', attempt: 1 });
    await waitFor('3 events applied', () => (running.consumer.applied >= 3 ? true : undefined));
    // A second delivery of an applied event (a peer claimed it while the first was slow) changes nothing.
    const [firstId] = read[0]?.[1]?.[0] ?? [];
    const scripted = withPlainloopScripts(redis.client);
    const field = 'plainloop_runs_started_total|["helper"]';
    const again = await scripted.plainloopMetricsApply(
      shard.events,
      shard.metrics.totals,
      shard.metrics.window,
      shard.metrics.tenantCost,
      metricsGroup,
      firstId as string,
      '1',
      '1',
      '2',
      field,
      '1',
    );
    expect(again).toBe(0);
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_runs_started_total', { agent: 'helper' })).toBe(3);
    expect(sampleValue(samples, 'plainloop_event_consumer_pending')).toBe(0);
  });

  it('tells Telegram once when the run error rate crosses the threshold and once when it resolves', async () => {
    const telegramSettings = {
      PLAINLOOP_ALERT_WINDOW_SECONDS: '60',
      PLAINLOOP_ALERT_MIN_SAMPLES: '12',
      PLAINLOOP_ALERT_EVALUATE_MS: '100',
      TELEGRAM_BOT_TOKEN: '123456:planted-bot-token',
      TELEGRAM_CHAT_ID: '-100200300',
      TELEGRAM_API_URL: telegram.baseUrl,
    };
    // Two replicas evaluate the same window: only the one holding the alerter lease may send.
    const running = await start(telegramSettings);
    const replica = await start({ ...telegramSettings, PLAINLOOP_METRICS_CONSUMER: 'metrics-replica' });
    const finished = (status: string): Draft => ({
      type: 'run.finished',
      status,
      steps: 1,
      usage,
      costUsd: 0,
      durationMs: 100,
      ...(status === 'failed' ? { error: error('llm_server') } : {}),
    });
    // 1 failure in 9 runs: 11%, but too few runs to judge.
    await publish(...Array.from({ length: 8 }, () => finished('succeeded')), finished('failed'));
    await waitFor('9 events applied', () =>
      running.consumer.applied + replica.consumer.applied >= 9 ? true : undefined,
    );
    const evaluated = running.alerter.evaluations + replica.alerter.evaluations;
    await waitFor('two evaluations', () =>
      running.alerter.evaluations + replica.alerter.evaluations >= evaluated + 2 ? true : undefined,
    );
    expect(telegram.requests).toHaveLength(0);

    // 2 failures in 12 runs (16.7%) crosses 5%; Telegram fails the first try, the next evaluation resends.
    // Telegram answers slowly: a replica evaluating meanwhile must not send the message a second time.
    telegram.failNext({ status: 500 });
    telegram.answerAfter(350);
    await publish(finished('succeeded'), finished('succeeded'), finished('failed'));
    await waitFor('the firing message', () => (telegram.delivered().length >= 1 ? true : undefined));
    await sleep(500);
    const [firing] = telegram.delivered();
    expect(telegram.delivered()).toHaveLength(1);
    expect(telegram.requests.length).toBeGreaterThanOrEqual(2);
    expect(firing?.botToken).toBe('123456:planted-bot-token');
    expect(firing?.body.chat_id).toBe('-100200300');
    expect(firing?.body.text).toMatch(
      /FIRING PlainloopRunErrorRateHigh\nrun error rate 16\.7% over the last 1 min \(2 of 12/,
    );
    const whileFiring = await scrape(running.url);
    expect(sampleValue(whileFiring, 'plainloop_alert_firing', { alert: 'PlainloopRunErrorRateHigh' })).toBe(
      1,
    );
    expect(sampleValue(whileFiring, 'plainloop_alert_firing', { alert: 'PlainloopLlmErrorRateHigh' })).toBe(
      0,
    );

    // 2 failures in 42 runs (4.8%): resolved, once.
    await publish(...Array.from({ length: 30 }, () => finished('succeeded')));
    await waitFor('the resolved message', () => (telegram.delivered().length >= 2 ? true : undefined));
    await sleep(500);
    expect(telegram.delivered().map((request) => String(request.body.text).split('\n')[0])).toEqual([
      '🔥 FIRING PlainloopRunErrorRateHigh',
      '✅ RESOLVED PlainloopRunErrorRateHigh',
    ]);
    const afterwards = await scrape(running.url);
    expect(sampleValue(afterwards, 'plainloop_alert_firing', { alert: 'PlainloopRunErrorRateHigh' })).toBe(0);
  });

  it('warns once a tenant has spent most of its daily budget, by the ledger that stops its runs', async () => {
    const budgetSettings = { PLAINLOOP_TENANT_DAILY_BUDGETS: '{"acme":1,"initech":5}' };
    const running = await start({
      ...budgetSettings,
      PLAINLOOP_ALERT_EVALUATE_MS: '100',
      TELEGRAM_BOT_TOKEN: '123456:planted-bot-token',
      TELEGRAM_CHAT_ID: '-100200300',
      TELEGRAM_API_URL: telegram.baseUrl,
    });
    // What the workers do around each model call: reserve the estimate, settle the real cost.
    const budgets = new TenantBudget(redis.client, redis.keys, loadConfig(budgetSettings).budgets);
    const spend = async (callId: string, costUsd: number) => {
      const decision = await budgets.reserve('acme', callId, costUsd, Date.now());
      if (!decision.reserved || !decision.reservation) throw new Error('the budget refused the call');
      await budgets.settle(decision.reservation, costUsd);
    };
    await spend('call-1', 0.5);
    const evaluated = running.alerter.evaluations;
    await waitFor('two evaluations', () => (running.alerter.evaluations >= evaluated + 2 ? true : undefined));
    expect(telegram.requests).toHaveLength(0);
    await spend('call-2', 0.35);
    await waitFor('the budget message', () => (telegram.delivered().length >= 1 ? true : undefined));
    const again = running.alerter.evaluations;
    await waitFor('two more evaluations', () =>
      running.alerter.evaluations >= again + 2 ? true : undefined,
    );
    expect(telegram.delivered().map((request) => request.body.text)).toEqual([
      '🔥 FIRING PlainloopTenantBudgetBurn:acme\ntenant acme has spent $0.85 of its $1.00 daily budget today (85.0%; alert at 80.0%)',
    ]);
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_tenant_budget_used_ratio', { tenant: 'acme' })).toBeCloseTo(0.85);
    expect(sampleValue(samples, 'plainloop_tenant_budget_used_ratio', { tenant: 'initech' })).toBe(0);
    expect(sampleValue(samples, 'plainloop_alert_firing', { alert: 'PlainloopTenantBudgetBurn:acme' })).toBe(
      1,
    );
    // A quiet tenant leaves no alert state behind, so tenants add no series until they near their budget.
    expect(
      sampleValue(samples, 'plainloop_alert_firing', { alert: 'PlainloopTenantBudgetBurn:initech' }),
    ).toBeUndefined();
  });

  it('resolves, once, an alert whose rule no longer applies', async () => {
    const firing = { firing: true, since: Date.now() - 60_000, summary: 'near budget', notified: true };
    await redis.client.hset(
      redis.keys.metrics.alerts,
      'PlainloopTenantBudgetBurn:gone',
      JSON.stringify(firing),
    );
    await start({
      PLAINLOOP_ALERT_EVALUATE_MS: '100',
      TELEGRAM_BOT_TOKEN: '123456:planted-bot-token',
      TELEGRAM_CHAT_ID: '-100200300',
      TELEGRAM_API_URL: telegram.baseUrl,
    });
    await waitFor('the resolved message', () => (telegram.delivered().length >= 1 ? true : undefined));
    await sleep(400);
    expect(telegram.delivered().map((request) => String(request.body.text).split('\n')[0])).toEqual([
      '✅ RESOLVED PlainloopTenantBudgetBurn:gone',
    ]);
    expect(await redis.client.hexists(redis.keys.metrics.alerts, 'PlainloopTenantBudgetBurn:gone')).toBe(0);
  });

  it('takes over the events another metrics process read and left unacknowledged', async () => {
    await publish({ type: 'run.started', attempt: 1 }, { type: 'run.started', attempt: 1 });
    const { events: stream } = streamOf(eventOf({ type: 'run.started' }));
    await redis.client.xgroup('CREATE', stream, metricsGroup, '0', 'MKSTREAM');
    // Another process, named otherwise, read both and died: its entries stay pending until claimed.
    await redis.client.xreadgroup('GROUP', metricsGroup, 'metrics-dead', 'STREAMS', stream, '>');
    const running = await start({ PLAINLOOP_METRICS_CLAIM_IDLE_MS: '1000' });
    await waitFor('the claimed events', () => (running.consumer.applied >= 2 ? true : undefined), 10_000);
    const samples = await scrape(running.url);
    expect(sampleValue(samples, 'plainloop_runs_started_total', { agent: 'helper' })).toBe(2);
    expect(sampleValue(samples, 'plainloop_event_consumer_pending')).toBe(0);
  });
});
