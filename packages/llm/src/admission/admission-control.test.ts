import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdmissionControl, estimateTokens } from './admission-control.ts';

const model = 'openai:gpt-4.1-mini';

describe('AdmissionControl (fleet-wide, in Redis)', () => {
  let redis: TestRedis;
  beforeEach(async () => {
    redis = await useTestRedis();
  });
  afterEach(() => redis.close());

  it('admits up to the requests per minute across workers, then says how long to wait', async () => {
    const limits = { [model]: { requestsPerMinute: 3 } };
    const workers = [
      new AdmissionControl(redis.client, redis.keys, limits),
      new AdmissionControl(redis.connect(), redis.keys, limits),
    ];
    const decisions = [];
    for (let call = 0; call < 5; call += 1) decisions.push(await workers[call % 2]?.reserve(model, 10));
    expect(decisions.map((decision) => decision?.admitted)).toEqual([true, true, true, false, false]);
    const refused = decisions[3];
    expect(refused?.admitted === false && refused.retryInMs).toBeGreaterThan(59_000);
  });

  it('admits up to the tokens per minute, and counts real usage once settled', async () => {
    const admission = new AdmissionControl(redis.client, redis.keys, { [model]: { tokensPerMinute: 1_000 } });
    const first = await admission.reserve(model, 600);
    expect(first.admitted).toBe(true);
    expect((await admission.reserve(model, 600)).admitted).toBe(false);
    if (first.admitted) await admission.settle(first.reservation, 100); // the call used far less
    expect((await admission.reserve(model, 600)).admitted).toBe(true);
  });

  it('lets a call larger than the whole budget go alone instead of waiting for ever', async () => {
    const admission = new AdmissionControl(redis.client, redis.keys, { [model]: { tokensPerMinute: 1_000 } });
    const huge = await admission.reserve(model, 50_000);
    expect(huge).toMatchObject({ admitted: true, reservation: { tokens: 1_000 } });
  });

  it('holds every worker off a model during a cooldown, even one without limits', async () => {
    const admission = new AdmissionControl(redis.client, redis.keys, {});
    await admission.coolDown(model, 5_000);
    const decision = await new AdmissionControl(redis.connect(), redis.keys, {}).reserve(model, 1);
    expect(decision.admitted).toBe(false);
    expect(decision.admitted === false && decision.retryInMs).toBeGreaterThan(4_000);
    expect((await admission.reserve('openai:gpt-4.1', 1)).admitted).toBe(true);
  });

  it('keeps no window for a model without limits: nothing is written, nothing to settle', async () => {
    const admission = new AdmissionControl(redis.client, redis.keys, {});
    const decision = await admission.reserve(model, 500);
    expect(decision).toMatchObject({ admitted: true, reservation: { tokens: 0, tracked: false } });
    if (decision.admitted) await admission.settle(decision.reservation, 400);
    expect(await redis.client.keys(`${redis.keys.prefix}*admission*`)).toEqual([]);
  });

  it('never shortens a cooldown another worker set for longer, and reports what is left', async () => {
    const admission = new AdmissionControl(redis.client, redis.keys, {});
    await admission.coolDown(model, 30_000);
    await admission.coolDown(model, 1_000);
    const left = (await admission.cooldowns([model, 'openai:gpt-4.1'])).get(model) ?? 0;
    expect(left).toBeGreaterThan(29_000);
    expect((await admission.cooldowns(['openai:gpt-4.1'])).get('openai:gpt-4.1')).toBe(0);
  });

  it('estimates a call from its prompt and expected answer', () => {
    const estimate = estimateTokens({
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
      tools: [],
      maxOutputTokens: 50,
    });
    expect(estimate).toBe(Math.ceil((400 + 2) / 4) + 50); // prompt and tool list at 4 characters a token, plus the answer
  });
});
