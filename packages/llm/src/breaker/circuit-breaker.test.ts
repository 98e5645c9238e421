import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, countsAgainstBreaker } from './circuit-breaker.ts';

const model = 'openai:gpt-4.1-mini';
const settings = { failureThreshold: 3, cooldownMs: 300, probeLeaseMs: 200 };
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describe('CircuitBreaker (fleet-wide, in Redis)', () => {
  let redis: TestRedis;
  let breaker: CircuitBreaker;
  let otherWorker: CircuitBreaker;
  beforeEach(async () => {
    redis = await useTestRedis();
    breaker = new CircuitBreaker(redis.client, redis.keys, settings);
    otherWorker = new CircuitBreaker(redis.connect(), redis.keys, settings);
  });
  afterEach(() => redis.close());

  it('opens after three consecutive failures, and every worker sees it open', async () => {
    expect(await breaker.recordFailure(model)).toEqual({ transition: undefined, failures: 1 });
    await breaker.recordFailure(model);
    expect(await breaker.recordFailure(model)).toEqual({ transition: 'opened', failures: 3 });
    const seen = await otherWorker.acquire(model);
    expect(seen).toMatchObject({ allowed: false, state: 'open' });
    expect(seen.allowed === false && seen.retryInMs).toBeGreaterThan(0);
  });

  it('counts only consecutive failures: a success in between starts over', async () => {
    await breaker.recordFailure(model);
    await breaker.recordFailure(model);
    await breaker.recordSuccess(model);
    expect(await breaker.recordFailure(model)).toEqual({ transition: undefined, failures: 1 });
  });

  it('writes nothing for a success on a healthy breaker: the common case costs no write', async () => {
    expect(await breaker.recordSuccess(model)).toEqual({ transition: undefined, failures: 0 });
    expect(await redis.client.exists(redis.keys.breaker(model))).toBe(0);
  });

  it('half-opens after the cooldown for exactly one probe, and closes when the probe succeeds', async () => {
    for (let failure = 0; failure < 3; failure += 1) await breaker.recordFailure(model);
    await sleep(settings.cooldownMs + 20);
    expect(await breaker.acquire(model)).toEqual({ allowed: true, state: 'half_open' });
    expect(await otherWorker.acquire(model)).toMatchObject({ allowed: false, state: 'half_open' });
    expect(await breaker.recordSuccess(model)).toEqual({ transition: 'closed', failures: 0 });
    expect(await otherWorker.acquire(model)).toEqual({ allowed: true, state: 'closed' });
  });

  it('opens again when the probe fails, and lets another probe through if the first one vanishes', async () => {
    for (let failure = 0; failure < 3; failure += 1) await breaker.recordFailure(model);
    await sleep(settings.cooldownMs + 20);
    await breaker.acquire(model);
    expect(await breaker.recordFailure(model)).toMatchObject({ transition: 'opened' });
    await sleep(settings.cooldownMs + 20);
    expect(await breaker.acquire(model)).toMatchObject({ allowed: true, state: 'half_open' });
    // This probe's worker dies; once its lease runs out another worker may probe.
    await sleep(settings.probeLeaseMs + 20);
    expect(await otherWorker.acquire(model)).toMatchObject({ allowed: true, state: 'half_open' });
  });

  it('tells callers of a half-open breaker to come back within a cooldown, not the whole probe lease', async () => {
    const longLease = new CircuitBreaker(redis.client, redis.keys, { ...settings, probeLeaseMs: 60_000 });
    for (let failure = 0; failure < 3; failure += 1) await longLease.recordFailure(model);
    await sleep(settings.cooldownMs + 20);
    await longLease.acquire(model);
    const waiting = await longLease.acquire(model);
    expect(waiting.allowed === false && waiting.retryInMs).toBeLessThanOrEqual(settings.cooldownMs);
  });

  it('reads every breaker for the API and the metrics, those only ever asked included', async () => {
    for (let failure = 0; failure < 3; failure += 1) await breaker.recordFailure(model);
    await breaker.recordSuccess('google:gemini-2.5-flash');
    // A model only ever asked (its successes change nothing, so nothing is written) is listed too.
    await breaker.acquire('anthropic:claude-haiku-4-5');
    expect(await otherWorker.read()).toEqual([
      { model: 'anthropic:claude-haiku-4-5', state: 'closed', failures: 0, openedAt: undefined },
      { model: 'google:gemini-2.5-flash', state: 'closed', failures: 0, openedAt: undefined },
      { model, state: 'open', failures: 3, openedAt: expect.any(Number) },
    ]);
  });

  it('counts only failures that say the model is unwell', () => {
    expect(
      ['server', 'overloaded', 'timeout', 'connection'].every((kind) => countsAgainstBreaker(kind as never)),
    ).toBe(true);
    expect(
      ['rate_limit', 'bad_request', 'auth', 'context_length', 'aborted'].some((kind) =>
        countsAgainstBreaker(kind as never),
      ),
    ).toBe(false);
  });
});
