import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasProtoKey, RunRequest } from './run-request.ts';

const agentNamePattern = /^[a-z][a-z0-9_-]{0,63}$/;
const tenantIdPattern = /^[a-zA-Z0-9_.-]{1,64}$/;
/** What a Redis key segment must avoid: a separator, a cluster hash tag, or anything a log line would split on. */
const unsafeForRedisKey = /[:{}\s]/;

/**
 * Any UTF-16 code unit, so lone surrogates and surrogate pairs both occur: zod measures a string in
 * code points, not code units, and producers in other languages send strings JavaScript would never
 * build itself.
 */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyString = (constraints: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: codeUnit, ...constraints });

/** A lone surrogate counts as one, as in zod. */
const codePointLength = (text: string) => [...text].length;

const agentName = fc.stringMatching(agentNamePattern);
const tenantId = fc.stringMatching(tenantIdPattern);
const limits = fc.record(
  {
    maxIterations: fc.integer({ min: 1, max: 100 }),
    maxCostUsd: fc.double({ min: Number.MIN_VALUE, max: 10_000, noNaN: true }),
    maxTokens: fc.integer({ min: 1, max: 100_000_000 }),
  },
  { requiredKeys: [] },
);
const metadata = fc.dictionary(anyString({ maxLength: 64 }), anyString({ maxLength: 512 }), {
  maxKeys: 8,
  noNullPrototype: true,
});

const wellFormedRequest = fc.record(
  {
    agent: agentName,
    // A `__proto__` key is refused (see the test below), so a well-formed input has none.
    input: fc.jsonValue().filter((value) => !hasProtoKey(value)),
    tenantId,
    threadId: fc.stringMatching(/^[a-zA-Z0-9_.:@-]{1,256}$/),
    idempotencyKey: anyString({ minLength: 1, maxLength: 256 }),
    limits,
    metadata,
  },
  { requiredKeys: ['agent', 'input'] },
);

/**
 * Values of every kind, containers without a prototype, sparse arrays, boxed primitives, Maps and
 * Dates included: the API hands the validator whatever a JSON parser produced, but BullMQ producers
 * hand it whatever their code built.
 */
const anyValue = fc.anything({
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withBigInt: true,
});

/**
 * Names from the allowed alphabet salted with what breaks a Redis key or a label (separators, hash-tag
 * braces, Unicode whitespace, upper case, accents), so the validator is tested near its boundary, not
 * only on noise it trivially rejects.
 */
const nearName = fc.string({
  unit: fc.constantFrom(
    ...'azAZ09_.-',
    ':',
    '{',
    '}',
    ' ',
    '\t',
    '\n',
    '\u00a0',
    '\u2028',
    '\ufeff',
    'é',
    '/',
  ),
  maxLength: 70,
});

/** Mostly valid, sometimes near-valid, sometimes anything: one wrong field at a time is the useful case. */
const mostlyValid = <Value>(valid: fc.Arbitrary<Value>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, ...wrong.map((arbitrary) => ({ arbitrary, weight: 1 })));

/** An object with the request's own field names, each holding a valid value or one of any type. */
const requestShapedObject = fc.record(
  {
    agent: mostlyValid(agentName, nearName, anyValue),
    input: mostlyValid(fc.jsonValue(), anyValue),
    tenantId: mostlyValid(tenantId, nearName, anyString({ maxLength: 80 }), anyValue),
    threadId: mostlyValid(
      fc.stringMatching(/^[a-zA-Z0-9_.:@-]{1,256}$/),
      anyString({ maxLength: 600 }),
      anyValue,
    ),
    idempotencyKey: mostlyValid(
      anyString({ minLength: 1, maxLength: 256 }),
      anyString({ maxLength: 600 }),
      anyValue,
    ),
    limits: mostlyValid(limits, fc.dictionary(fc.string(), anyValue), anyValue),
    metadata: mostlyValid(metadata, fc.dictionary(fc.string(), anyValue), anyValue),
  },
  { requiredKeys: ['agent', 'input'] },
);

const arbitraryBody = fc.oneof(
  anyValue,
  fc.object({ values: [anyValue] }),
  requestShapedObject,
  fc.tuple(requestShapedObject, fc.dictionary(fc.string(), anyValue)).map(([known, extra]) => ({
    ...extra,
    ...known,
  })),
);

describe('RunRequest properties', () => {
  it('parses every well-formed request, keeps its input, and parses its own output unchanged', () => {
    fc.assert(
      fc.property(wellFormedRequest, (request) => {
        const parsed = RunRequest.parse(request);
        expect(parsed).toEqual({ ...request, tenantId: request.tenantId ?? 'default' });
        expect(RunRequest.parse(parsed)).toEqual(parsed);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on any value, and only ever lets through names that are safe in Redis keys', () => {
    fc.assert(
      fc.property(arbitraryBody, (body) => {
        const result = RunRequest.safeParse(body);
        if (!result.success) {
          expect(result.error.issues.length).toBeGreaterThan(0);
          return;
        }
        expect(result.data.agent).toMatch(agentNamePattern);
        expect(result.data.tenantId).toMatch(tenantIdPattern);
        expect(result.data.tenantId).not.toMatch(unsafeForRedisKey);
        expect(RunRequest.parse(result.data)).toEqual(result.data);
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses an input with a __proto__ key anywhere, rather than silently dropping it', () => {
    for (const input of ['{"__proto__":""}', '{"a":[{"__proto__":{"polluted":true}}]}']) {
      const result = RunRequest.safeParse({ agent: 'research', input: JSON.parse(input) });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toBe('input may not use the object key __proto__');
    }
    expect(RunRequest.safeParse({ agent: 'research', input: { proto: 1, __proto: 2 } }).success).toBe(true);
  });

  it('takes a thread id of up to 256 characters of its alphabet, and nothing else', () => {
    const accepts = (threadId: string) =>
      RunRequest.safeParse({ agent: 'research', input: {}, threadId }).success;
    expect(accepts('customer-42:support@acme.example')).toBe(true);
    expect(accepts('a'.repeat(256))).toBe(true);
    expect(accepts('a'.repeat(257))).toBe(false);
    for (const bad of ['', 'has space', 'brace}', 'slash/', 'naïve']) expect(accepts(bad)).toBe(false);
  });

  describe('documented limits', () => {
    const base = { agent: 'research', input: {} };
    /** Lengths on both sides of each limit, so an off-by-one on either side shows. */
    const lengthAround = (limit: number) =>
      fc.oneof(fc.integer({ min: 1, max: limit + 1_000 }), fc.integer({ min: limit - 2, max: limit + 2 }));

    it.each([
      ['idempotencyKey', 256, (text: string) => ({ idempotencyKey: text })],
      ['metadata value', 512, (text: string) => ({ metadata: { note: text } })],
      ['metadata key', 64, (text: string) => ({ metadata: { [text]: 'x' } })],
    ] as const)('accepts a %s up to %i code points and rejects a longer one', (_field, limit, place) => {
      fc.assert(
        fc.property(
          lengthAround(limit).chain((length) => anyString({ minLength: length, maxLength: length })),
          (text) => {
            const result = RunRequest.safeParse({ ...base, ...place(text) });
            expect(result.success).toBe(codePointLength(text) <= limit);
          },
        ),
        { numRuns: 200 },
      );
    });

    it.each([
      ['maxIterations', 1_000],
      ['maxTokens', 100_000_000],
    ] as const)('rejects a %s over %i', (field, maximum) => {
      fc.assert(
        fc.property(fc.integer({ min: maximum + 1, max: Number.MAX_SAFE_INTEGER }), (value) => {
          const result = RunRequest.safeParse({ ...base, limits: { [field]: value } });
          expect(result.success).toBe(false);
          expect(result.error?.issues.some((issue) => issue.path.join('.') === `limits.${field}`)).toBe(true);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a cost limit over 10,000 USD, not positive, or not finite', () => {
      const outOfRange = fc.oneof(
        fc.double({ min: 10_000, max: Number.MAX_VALUE, minExcluded: true }),
        fc.double({ min: -Number.MAX_VALUE, max: 0 }),
        fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      );
      fc.assert(
        fc.property(outOfRange, (maxCostUsd) => {
          expect(RunRequest.safeParse({ ...base, limits: { maxCostUsd } }).success).toBe(false);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects an iteration or token limit that is not a whole number', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('maxIterations', 'maxTokens'),
          fc.double({ min: 1, max: 100, noNaN: true }).filter((value) => !Number.isInteger(value)),
          (field, value) => {
            expect(RunRequest.safeParse({ ...base, limits: { [field]: value } }).success).toBe(false);
          },
        ),
        { numRuns: 200 },
      );
    });
  });
});
