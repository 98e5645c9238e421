import { describe, expect, it } from 'vitest';
import { RunEvent } from './run-event.ts';
import { RunRequest } from './run-request.ts';
import { isTerminalStatus, RunStatus } from './run-status.ts';
import { addUsage, emptyUsage, totalTokens } from './usage.ts';

describe('RunRequest', () => {
  it('defaults the tenant and keeps the input as JSON', () => {
    expect(RunRequest.parse({ agent: 'research', input: { topic: 'x' } })).toEqual({
      agent: 'research',
      input: { topic: 'x' },
      tenantId: 'default',
    });
  });

  it.each([
    ['no agent', { input: {} }],
    ['no input', { agent: 'research' }],
    ['an agent name with spaces', { agent: 'my agent', input: {} }],
    ['a tenant that would break a Redis key', { agent: 'research', input: {}, tenantId: 'a:b{c}' }],
    ['an unknown field', { agent: 'research', input: {}, priority: 1 }],
    [
      'limits that loosen nothing but are nonsense',
      { agent: 'research', input: {}, limits: { maxIterations: 0 } },
    ],
    ['input that is not JSON', { agent: 'research', input: () => 1 }],
  ])('rejects %s', (_label, body) => {
    expect(RunRequest.safeParse(body).success).toBe(false);
  });
});

describe('run statuses', () => {
  it('names the terminal ones', () => {
    const terminal = RunStatus.options.filter(isTerminalStatus);
    expect(terminal).toEqual(['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'max_iterations']);
  });
});

describe('RunEvent', () => {
  it('tells events apart by their noun.verb type', () => {
    const base = { runId: 'run_1', tenantId: 't', agent: 'a', at: 1 };
    expect(RunEvent.safeParse({ ...base, type: 'step.started', step: 0, tier: 'plan' }).success).toBe(true);
    expect(RunEvent.safeParse({ ...base, type: 'step.started', step: 0 }).success).toBe(false);
    expect(RunEvent.safeParse({ ...base, type: 'step.exploded', step: 0 }).success).toBe(false);
  });
});

describe('usage', () => {
  it('adds up and totals input and output', () => {
    const one = { inputTokens: 10, cachedInputTokens: 4, outputTokens: 3, reasoningTokens: 1 };
    const sum = addUsage(addUsage(emptyUsage, one), one);
    expect(sum).toEqual({ inputTokens: 20, cachedInputTokens: 8, outputTokens: 6, reasoningTokens: 2 });
    expect(totalTokens(sum)).toBe(26);
  });
});
