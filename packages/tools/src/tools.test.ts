import { createLogger } from '@plainloop/telemetry';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { ToolError } from './errors/tool-error.ts';
import { runTool } from './run-tool.ts';
import { validateToolCall } from './validate-tool-call.ts';

const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Find an order by its id',
  input: z.object({ orderId: z.string().min(1) }),
  timeoutMs: 200,
  async run({ orderId }, context) {
    if (orderId === 'missing') throw new ToolError({ code: 'not_found', message: `no order ${orderId}` });
    if (orderId === 'crash') throw new Error('database exploded');
    if (orderId === 'slow') await new Promise((resolve) => setTimeout(resolve, 5_000));
    if (orderId === 'big') return { blob: 'x'.repeat(10_000) };
    return { orderId, status: 'shipped', key: context.idempotencyKey };
  },
});
const tools = new Map([[lookupOrder.name, lookupOrder]]);
const options = {
  runId: 'run_1',
  step: 2,
  callId: 'call_1',
  idempotencyKey: 'run_1:2:call_1',
  logger: createLogger({ service: 'test', level: 'silent' }),
  maxOutputChars: 1_000,
};
const call = (argumentsJson: string, name = 'lookup_order') => ({ id: 'call_1', name, argumentsJson });

describe('defineTool', () => {
  it('derives the JSON Schema offered to models from the zod input', () => {
    expect(lookupOrder.description).toMatchObject({
      name: 'lookup_order',
      timeoutMs: 200,
      idempotent: false,
      inputSchema: { type: 'object', properties: { orderId: { type: 'string', minLength: 1 } } },
    });
  });

  it('rejects a tool name providers would refuse', () => {
    expect(() =>
      defineTool({ name: 'look up', description: 'x', input: z.object({}), run: () => 1 }),
    ).toThrow();
  });
});

describe('validateToolCall', () => {
  it('accepts arguments that fit the schema', () => {
    expect(validateToolCall(tools, call('{"orderId":"42"}'))).toMatchObject({
      ok: true,
      input: { orderId: '42' },
    });
  });

  it.each([
    ['an unknown tool', call('{}', 'refund'), 'unknown_tool', /no tool named "refund".*lookup_order/],
    ['arguments that are not JSON', call('{"orderId": 42'), 'invalid_arguments', /not valid JSON/],
    ['arguments of the wrong shape', call('{"orderId": 42}'), 'invalid_arguments', /orderId: /],
    ['missing arguments', call(''), 'invalid_arguments', /orderId/],
  ])('turns %s into a structured error for the model', (_label, badCall, code, message) => {
    const validated = validateToolCall(tools, badCall);
    expect(validated.ok).toBe(false);
    if (!validated.ok) {
      expect(validated.error.code).toBe(code);
      expect(validated.error.message).toMatch(message);
      expect(validated.error.retryable).toBe(false);
    }
  });
});

describe('runTool', () => {
  const signal = new AbortController().signal;

  it('returns the output and hands the tool its idempotency key', async () => {
    const result = await runTool(lookupOrder, { orderId: '42' }, { ...options, signal });
    expect(result).toEqual({ ok: true, output: { orderId: '42', status: 'shipped', key: 'run_1:2:call_1' } });
  });

  it('keeps the code and retryability of a ToolError', async () => {
    const result = await runTool(lookupOrder, { orderId: 'missing' }, { ...options, signal });
    expect(result).toEqual({
      ok: false,
      error: { code: 'not_found', message: 'no order missing', retryable: false },
    });
  });

  it('turns any other thrown error into tool_error without a stack', async () => {
    const result = await runTool(lookupOrder, { orderId: 'crash' }, { ...options, signal });
    expect(result).toEqual({
      ok: false,
      error: { code: 'tool_error', message: 'database exploded', retryable: false },
    });
  });

  it('stops waiting at the timeout and says so, retryable', async () => {
    const started = Date.now();
    const result = await runTool(lookupOrder, { orderId: 'slow' }, { ...options, signal });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({ ok: false, error: { code: 'tool_timeout', retryable: true } });
  });

  it('cuts an oversized output before the model sees it', async () => {
    const result = await runTool(lookupOrder, { orderId: 'big' }, { ...options, signal });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(typeof result.output).toBe('string');
      expect(String(result.output)).toMatch(/\[truncated: 1000 of 10011 characters shown\]$/);
    }
  });

  it('checks the output against the output schema', async () => {
    const typed = defineTool({
      name: 'order_total',
      description: 'Total of an order',
      input: z.object({}),
      output: z.object({ total: z.number() }),
      run: () => ({ total: 'twelve' }) as unknown as { total: number },
    });
    const result = await runTool(typed, {}, { ...options, signal });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_output' } });
  });

  it('refuses an output that is not JSON at all', async () => {
    const odd = defineTool({
      name: 'odd',
      description: 'Returns a function',
      input: z.object({}),
      run: () => () => 1,
    });
    const result = await runTool(odd, {}, { ...options, signal });
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_output' } });
  });

  it('does not start a tool for a run that was already stopped', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runTool(lookupOrder, { orderId: '42' }, { ...options, signal: controller.signal });
    expect(result).toMatchObject({ ok: false, error: { code: 'aborted' } });
  });
});

describe('runTool when the run stops', () => {
  it('stops waiting for a tool that ignores its signal', async () => {
    const stubborn = defineTool({
      name: 'stubborn',
      description: 'Ignores its signal',
      input: z.object({}),
      timeoutMs: 10_000,
      run: () => new Promise((resolve) => setTimeout(() => resolve('late'), 3_000)),
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const result = await runTool(stubborn, {}, { ...options, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(result).toMatchObject({ ok: false, error: { code: 'aborted', retryable: true } });
  });
});
