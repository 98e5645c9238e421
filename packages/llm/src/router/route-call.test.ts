import type { GenerateOptions, LanguageModel } from '@plainloop/contracts';
import {
  type FakeProviderServer,
  startFakeOpenAIServer,
  type TestRedis,
  useTestRedis,
} from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdmissionControl, type ModelLimits } from '../admission/admission-control.ts';
import { CircuitBreaker } from '../breaker/circuit-breaker.ts';
import { createOpenAIClient, OpenAIChatModel } from '../providers/openai/openai-chat-model.ts';
import { type RouterDependencies, type RouterEvent, routeCall } from './route-call.ts';

const settings = {
  attemptsPerModel: 3,
  baseDelayMs: 10,
  maxDelayMs: 50,
  maxInlineWaitMs: 2_000,
  maxCooldownMs: 600_000,
};
const breakerSettings = { failureThreshold: 3, cooldownMs: 5_000, probeLeaseMs: 1_000 };

function options(overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    messages: [{ role: 'user', content: 'hi' }],
    tools: [],
    timeoutMs: 5_000,
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe('routeCall through a fallback chain, on the real SDK against loopback fakes', () => {
  let redis: TestRedis;
  let primaryServer: FakeProviderServer;
  let fallbackServer: FakeProviderServer;
  let primary: LanguageModel;
  let fallback: LanguageModel;
  let events: RouterEvent[];

  beforeEach(async () => {
    redis = await useTestRedis();
    primaryServer = await startFakeOpenAIServer();
    fallbackServer = await startFakeOpenAIServer();
    primary = new OpenAIChatModel(
      'primary',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: primaryServer.baseUrl }),
    );
    fallback = new OpenAIChatModel(
      'fallback',
      createOpenAIClient({ apiKey: 'sk-test', baseUrl: fallbackServer.baseUrl }),
    );
    fallbackServer.respondWith(() => ({ kind: 'completion', text: 'from the fallback' }));
    events = [];
  });
  afterEach(async () => {
    await primaryServer.close();
    await fallbackServer.close();
    await redis.close();
  });

  function dependencies(limits: Record<string, ModelLimits> = {}): RouterDependencies {
    return {
      breaker: new CircuitBreaker(redis.client, redis.keys, breakerSettings),
      admission: new AdmissionControl(redis.client, redis.keys, limits),
      settings,
      onEvent: async (event) => {
        events.push(event);
      },
    };
  }

  it('waits out a 429 storm exactly as retry-after says, then answers', async () => {
    primaryServer.enqueue(
      { kind: 'error', status: 429, retryAfterSeconds: 1 },
      { kind: 'error', status: 429, retryAfterSeconds: 1 },
      { kind: 'completion', text: 'finally' },
    );
    const started = Date.now();
    const outcome = await routeCall([primary, fallback], options(), dependencies());
    expect(outcome).toMatchObject({ kind: 'answered', model: primary, result: { text: 'finally' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(primaryServer.requests).toHaveLength(3);
    expect(fallbackServer.requests).toHaveLength(0);
    // Each retry came when the header said, not sooner and not after some backoff of our own on top.
    const arrivals = primaryServer.requests.map((request) => request.receivedAt);
    for (const gap of [1, 2].map((index) => (arrivals[index] ?? 0) - (arrivals[index - 1] ?? 0))) {
      expect(gap).toBeGreaterThanOrEqual(980);
      expect(gap).toBeLessThan(1_900);
    }
    expect(
      events
        .filter((event) => event.type === 'attempt_failed')
        .map((event) => event.type === 'attempt_failed' && event.willRetry),
    ).toEqual([true, true]);
  });

  it('falls back to the next model after three 500s, and the breaker of the first opens', async () => {
    primaryServer.respondWith(() => ({ kind: 'error', status: 500 }));
    const outcome = await routeCall([primary, fallback], options(), dependencies());
    expect(outcome).toMatchObject({
      kind: 'answered',
      model: fallback,
      result: { text: 'from the fallback' },
    });
    expect(primaryServer.requests).toHaveLength(3);
    expect(events).toContainEqual({
      type: 'breaker_changed',
      model: 'openai:primary',
      transition: 'opened',
      failures: 3,
    });

    // The next call does not touch the open model at all.
    await routeCall([primary, fallback], options(), dependencies());
    expect(primaryServer.requests).toHaveLength(3);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'model_skipped', model: 'openai:primary', reason: 'breaker_open' }),
    );
  });

  it('counts only consecutive failures: a success after a 500, and any success in flight, starts over', async () => {
    const breaker = new CircuitBreaker(redis.client, redis.keys, breakerSettings);
    primaryServer.enqueue({ kind: 'error', status: 500 }, { kind: 'completion', text: 'retried' });
    const answered = await routeCall([primary], options(), dependencies());
    expect(answered).toMatchObject({ kind: 'answered', result: { text: 'retried' } });
    if (answered.kind === 'answered') await answered.bookkeeping;
    expect(await breaker.read()).toContainEqual(
      expect.objectContaining({ model: 'openai:primary', failures: 0 }),
    );

    // Another worker's failures land while this call is out: its success still says the model is up.
    primaryServer.enqueue({ kind: 'completion', text: 'slow', delayMs: 300 });
    const inFlight = routeCall([primary], options(), dependencies());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await breaker.recordFailure('openai:primary');
    await breaker.recordFailure('openai:primary');
    const slow = await inFlight;
    if (slow.kind === 'answered') await slow.bookkeeping;
    expect(await breaker.read()).toContainEqual(
      expect.objectContaining({ model: 'openai:primary', failures: 0 }),
    );
  });

  it('does not retry what cannot succeed: a 401 goes straight to the next model', async () => {
    primaryServer.enqueue({ kind: 'error', status: 401 });
    const outcome = await routeCall([primary, fallback], options(), dependencies());
    expect(outcome).toMatchObject({ kind: 'answered', model: fallback });
    expect(primaryServer.requests).toHaveLength(1);
  });

  it('holds the whole fleet off a model that asks for a long wait, and moves on', async () => {
    primaryServer.enqueue({ kind: 'error', status: 429, retryAfterSeconds: 30 });
    const first = await routeCall([primary, fallback], options(), dependencies());
    expect(first).toMatchObject({ kind: 'answered', model: fallback });
    // Another worker's call sees the cooldown and never sends the primary a request.
    const second = await routeCall([primary, fallback], options(), {
      ...dependencies(),
      admission: new AdmissionControl(redis.connect(), redis.keys, {}),
    });
    expect(second).toMatchObject({ kind: 'answered', model: fallback });
    expect(primaryServer.requests).toHaveLength(1);
  });

  it('says how long to wait when no model of the chain can take the call', async () => {
    primaryServer.enqueue({ kind: 'error', status: 429, retryAfterSeconds: 30 });
    const outcome = await routeCall([primary], options(), dependencies());
    expect(outcome).toMatchObject({ kind: 'wait', reason: 'cooling_down' });
    expect(outcome.kind === 'wait' && outcome.retryInMs).toBeGreaterThan(29_000);
  });

  it('skips a model whose shared requests-per-minute are used up', async () => {
    primaryServer.respondWith(() => ({ kind: 'completion', text: 'primary' }));
    const limited = dependencies({ 'openai:primary': { requestsPerMinute: 1 } });
    expect(await routeCall([primary, fallback], options(), limited)).toMatchObject({ model: primary });
    expect(await routeCall([primary, fallback], options(), limited)).toMatchObject({ model: fallback });
    expect(await routeCall([primary], options(), limited)).toMatchObject({
      kind: 'wait',
      reason: 'rate_limited',
    });
    expect(primaryServer.requests).toHaveLength(1);
  });

  it('waits rather than fails when a model stays rate limited after its attempts', async () => {
    primaryServer.respondWith(() => ({ kind: 'error', status: 429, retryAfterSeconds: 0 }));
    const outcome = await routeCall([primary], options(), dependencies());
    expect(outcome).toMatchObject({ kind: 'wait', reason: 'rate_limited' });
    expect(primaryServer.requests).toHaveLength(3);
  });

  it('caps a provider wait past all reason (a day-long quota) at the configured cooldown', async () => {
    primaryServer.enqueue({ kind: 'error', status: 429, retryAfterSeconds: 86_400 });
    const outcome = await routeCall([primary], options(), {
      ...dependencies(),
      settings: { ...settings, maxCooldownMs: 60_000 },
    });
    expect(outcome.kind === 'wait' && outcome.retryInMs).toBeLessThanOrEqual(60_000 * 1.2);
    expect(await redis.client.pttl(redis.keys.admission('openai:primary').cooldown)).toBeLessThanOrEqual(
      60_000,
    );
  });

  it('hands a half-open probe back when it is cut short, so another caller may probe at once', async () => {
    const breaker = new CircuitBreaker(redis.client, redis.keys, {
      failureThreshold: 1,
      cooldownMs: 50,
      probeLeaseMs: 60_000,
    });
    await breaker.recordFailure('openai:primary');
    await new Promise((resolve) => setTimeout(resolve, 60));
    primaryServer.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(
      routeCall([primary], options({ signal: controller.signal }), { ...dependencies(), breaker }),
    ).rejects.toMatchObject({ kind: 'aborted' });
    expect(await breaker.acquire('openai:primary')).toEqual({ allowed: true, state: 'half_open' });
  });

  it('closes a half-open breaker on any real answer, even a 400: the provider is up', async () => {
    const breaker = new CircuitBreaker(redis.client, redis.keys, {
      failureThreshold: 1,
      cooldownMs: 50,
      probeLeaseMs: 60_000,
    });
    await breaker.recordFailure('openai:primary');
    await new Promise((resolve) => setTimeout(resolve, 60));
    primaryServer.enqueue({ kind: 'error', status: 400, message: 'bad request' });
    await routeCall([primary, fallback], options(), { ...dependencies(), breaker });
    expect(events).toContainEqual({
      type: 'breaker_changed',
      model: 'openai:primary',
      transition: 'closed',
      failures: 0,
    });
  });

  it('tries the next, cheaper model when a budget refuses a call, and only then gives the refusal', async () => {
    fallbackServer.respondWith(() => ({ kind: 'completion', text: 'cheap answer' }));
    const budgetError = new Error('over budget');
    const refusingPrimary = {
      reserve: async ({ model }: { model: { modelId: string } }) =>
        model.modelId === 'primary' ? { error: budgetError } : undefined,
      settle: async () => {},
    };
    const outcome = await routeCall([primary, fallback], options(), {
      ...dependencies(),
      spendGuard: refusingPrimary,
    });
    expect(outcome).toMatchObject({ kind: 'answered', model: fallback });
    expect(primaryServer.requests).toHaveLength(0);

    const refusingAll = { reserve: async () => ({ error: budgetError }), settle: async () => {} };
    await expect(
      routeCall([primary, fallback], options(), { ...dependencies(), spendGuard: refusingAll }),
    ).rejects.toBe(budgetError);
    const busy = { reserve: async () => ({ error: budgetError, retryInMs: 2_000 }), settle: async () => {} };
    expect(await routeCall([primary], options(), { ...dependencies(), spendGuard: busy })).toMatchObject({
      kind: 'wait',
      reason: 'budget',
    });
  });

  it('fails with the last error when every model fails for good', async () => {
    primaryServer.enqueue({ kind: 'error', status: 400, message: 'bad request' });
    fallbackServer.respondWith(() => ({ kind: 'error', status: 401, message: 'bad key' }));
    const outcome = await routeCall([primary, fallback], options(), dependencies());
    expect(outcome).toMatchObject({ kind: 'failed', error: { kind: 'auth', model: 'openai:fallback' } });
  });

  it('treats an answer that breaks the spec as a server fault and retries it', async () => {
    primaryServer.enqueue({ kind: 'malformed' }, { kind: 'completion', text: 'better' });
    expect(await routeCall([primary], options(), dependencies())).toMatchObject({
      kind: 'answered',
      result: { text: 'better' },
    });
  });

  it('stops at once when aborted while backing off', async () => {
    primaryServer.respondWith(() => ({ kind: 'error', status: 429, retryAfterSeconds: 2 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(
      routeCall([primary, fallback], options({ signal: controller.signal }), dependencies()),
    ).rejects.toMatchObject({
      kind: 'aborted',
    });
    expect(fallbackServer.requests).toHaveLength(0);
  });
});
