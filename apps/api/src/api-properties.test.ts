import { bindModels, defineAgent, manifestOf } from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { RunRequest } from '@plainloop/contracts';
import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import { createRunQueue } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiKeyring } from './auth/api-keyring.ts';
import { buildApi } from './build-api.ts';

/** Small enough that bodies on both sides of it are cheap to build, large enough for deeply nested ones. */
const bodyLimitBytes = 65_536;
const jsonContentType = 'application/json';

const model = scriptedModel({ name: 'noop', script: () => ({ text: 'done' }) });
const research = defineAgent({
  name: 'research',
  instructions: 'Research.',
  input: z.object({ topic: z.string().min(1) }),
  models: { plan: [model], execute: [model] },
});

/** What the API said it created: the only jobs the queue may hold, and the only runs a read may find. */
const acceptedRuns = new Map<string, { tenantId: string; request: RunRequest }>();
const knownTenants = ['default', 'acme', 'globex'];
/** Each known tenant's API key. The tenant a call acts for comes from its key. */
const keys: Record<string, string> = Object.fromEntries(
  knownTenants.map((tenant) => [tenant, `property-test-key-of-${tenant}`]),
);
const authentication = {
  keyring: ApiKeyring.of(Object.fromEntries(Object.entries(keys).map(([tenant, key]) => [key, tenant]))),
};

/**
 * The key a call is sent with: the tenant its `tenantId` query names (a parameter the API ignores,
 * kept as the fuzzed choice of tenant: a name nobody has, or several, means a key nobody has), else
 * the tenant its body names, else `default`.
 */
function tenantOfCall(call: Pick<Call, 'url' | 'body'>): string {
  let named: string[] = [];
  try {
    named = new URL(call.url, 'http://api.test').searchParams.getAll('tenantId');
  } catch {
    // A malformed URL: the API refuses it before looking at any key.
  }
  if (named.length > 0)
    return named.length === 1 && knownTenants.includes(named[0] as string) ? (named[0] as string) : 'nobody';
  try {
    const { tenantId } = JSON.parse(String(call.body?.payload ?? '').replace(/^\uFEFF/, '')) as {
      tenantId?: unknown;
    };
    if (typeof tenantId === 'string' && knownTenants.includes(tenantId)) return tenantId;
  } catch {
    // Not JSON: the body is refused whoever sends it.
  }
  return 'default';
}

type Body = { payload: string | Buffer; contentType: string | undefined };

/** One generated request, with what its endpoint alone knows about the answer it must get. */
type Call = {
  method: 'GET' | 'POST';
  url: string;
  body: Body | undefined;
  checkResponse: (response: LightMyRequestResponse) => void;
  [fc.toStringMethod]: () => string;
};

/**
 * An endpoint under test: the parameters it takes, how they make its URL, the bodies to send it, and
 * the checks only it can make. Every endpoint also gets the shared checks of `expectWellBehaved`.
 */
type Endpoint<Parameters> = {
  method: 'GET' | 'POST';
  route: string;
  parameters: fc.Arbitrary<Parameters>;
  url: (parameters: Parameters) => string;
  body?: fc.Arbitrary<Body>;
  checkResponse: (parameters: Parameters, body: Body | undefined, response: LightMyRequestResponse) => void;
};

/** Long payloads are cut in the middle, so a counterexample stays readable and its shape visible. */
function describeBody(body: Body) {
  const text = typeof body.payload === 'string' ? body.payload : `<bytes ${body.payload.toString('hex')}>`;
  const shown =
    text.length <= 400 ? text : `${text.slice(0, 200)} …${text.length - 300} more… ${text.slice(-100)}`;
  return `content-type: ${body.contentType ?? '(none)'}, ${Buffer.byteLength(body.payload)} bytes: ${JSON.stringify(shown)}`;
}

const callOf = (
  method: Call['method'],
  url: string,
  body: Body | undefined,
  check: Call['checkResponse'],
) => ({
  method,
  url,
  body,
  checkResponse: check,
  [fc.toStringMethod]: () => `${method} ${url}${body ? ` ${describeBody(body)}` : ''}`,
});

function callsOf<Parameters>(spec: Endpoint<Parameters>): fc.Arbitrary<Call> {
  return fc
    .tuple(spec.parameters, spec.body ?? fc.constant(undefined))
    .map(([parameters, body]) =>
      callOf(spec.method, spec.url(parameters), body, (response) =>
        spec.checkResponse(parameters, body, response),
      ),
    );
}

/** Malformed percent-encoding and reserved characters, as a hand-written or buggy client sends them. */
const rawUrlText = fc.string({
  unit: fc.constantFrom('%', '2', 'F', 'E', '0', 'a', '/', '?', '&', '=', '#', '+', ' ', '\u00e9'),
  minLength: 1,
  maxLength: 12,
});

/**
 * The endpoint's URL with raw text added to its path or its query. Sent without a body, so nothing
 * is created, and checked only by the shared checks: what such a URL decodes to is Fastify's business.
 */
function callsWithMalformedUrls<Parameters>(spec: Endpoint<Parameters>): fc.Arbitrary<Call> {
  return fc.tuple(spec.parameters, rawUrlText, fc.boolean()).map(([parameters, raw, inPath]) => {
    const [path, query] = spec.url(parameters).split('?');
    const url = inPath
      ? `${path}${raw}${query ? `?${query}` : ''}`
      : `${path}?${query ? `${query}&` : ''}${raw}`;
    return callOf(spec.method, url, undefined, () => {});
  });
}

// Bodies --------------------------------------------------------------------------------------------------

const contentTypes = fc.oneof(
  { arbitrary: fc.constant(jsonContentType), weight: 8 },
  fc.constantFrom(
    undefined,
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/json; charset=latin1',
    'application/problem+json',
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    '',
  ),
  fc.string({ maxLength: 40 }),
);

const jsonValue = fc.jsonValue({ maxDepth: 4 });
/** Mostly valid, sometimes anything: one wrong field at a time is what reaches deepest into the handler. */
const mostlyValid = <Value>(valid: fc.Arbitrary<Value>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ arbitrary: valid, weight: 5 }, ...wrong.map((arbitrary) => ({ arbitrary, weight: 1 })));

const topicInput = fc.record({ topic: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) });

/** Every field of a RunRequest, each valid or of a wrong type or shape. */
const runRequestShaped = fc.record(
  {
    agent: mostlyValid(
      fc.constant('research'),
      fc.constantFrom('support', 'research2', 'Research', ''),
      jsonValue,
    ),
    input: mostlyValid(
      topicInput,
      fc
        .tuple(topicInput, fc.dictionary(fc.string(), jsonValue))
        .map(([known, extra]) => ({ ...extra, ...known })),
      fc.record({ topic: jsonValue }),
      fc.constantFrom({}, { topic: '' }, { subject: 'redis' }),
      jsonValue,
    ),
    tenantId: mostlyValid(
      fc.constantFrom(...knownTenants),
      fc.stringMatching(/^[a-zA-Z0-9_.-]{1,64}$/),
      fc.string(),
      jsonValue,
    ),
    threadId: mostlyValid(
      fc.stringMatching(/^[a-zA-Z0-9_.:@-]{1,256}$/),
      fc.string({ maxLength: 300 }),
      jsonValue,
    ),
    idempotencyKey: mostlyValid(
      fc.string({ minLength: 1, maxLength: 256 }),
      fc.string({ maxLength: 300 }),
      jsonValue,
    ),
    limits: mostlyValid(
      fc.record(
        {
          maxIterations: fc.integer({ min: 1, max: 100 }),
          maxTokens: fc.integer({ min: 1, max: 1_000_000 }),
        },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.string(), jsonValue),
      jsonValue,
    ),
    metadata: mostlyValid(
      fc.dictionary(fc.string({ maxLength: 64 }), fc.string({ maxLength: 512 })),
      jsonValue,
    ),
  },
  { requiredKeys: ['agent', 'input'] },
);

/** Retries of a few requests under a few keys: the first is a 202, the same again a 200, a different one a 409. */
const retried = fc
  .record({
    agent: fc.constant('research'),
    input: fc.record({ topic: fc.constantFrom('redis', 'postgres') }),
    tenantId: fc.constantFrom(...knownTenants),
    idempotencyKey: fc.constantFrom('retry-1', 'retry-2'),
  })
  .map((request) => JSON.stringify(request));

/** A valid request padded to `targetBytes`, in multi-byte characters too, since the limit counts bytes. */
function paddedTo(targetBytes: number, filler: string) {
  const empty = JSON.stringify({ agent: 'research', input: { topic: '' } });
  const fillerBytes = Buffer.byteLength(filler);
  const room = Math.max(1, targetBytes - Buffer.byteLength(empty));
  const topic = filler.repeat(Math.floor(room / fillerBytes)) + 'x'.repeat(room % fillerBytes);
  return JSON.stringify({ agent: 'research', input: { topic } });
}
const nearTheLimit = fc
  .tuple(fc.integer({ min: -64, max: 64 }), fc.constantFrom('x', 'é', '€', '😀'))
  .map(([offset, filler]) => paddedTo(bodyLimitBytes + offset, filler));

/** A valid request whose input also holds arrays or objects nested `depth` levels down. */
function nestedRequest(depth: number, arrays: boolean) {
  const deep = arrays
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return `{"agent":"research","input":{"topic":"x","deep":${deep}}}`;
}

const validText = JSON.stringify({ agent: 'research', input: { topic: 'redis' } });
const notJson = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.integer({ min: 0, max: validText.length - 1 }).map((end) => validText.slice(0, end)),
  fc.string({ minLength: 1 }).map((garbage) => `${validText}${garbage}`),
  fc.constantFrom(
    `\ufeff${validText}`,
    '{"agent":"research","input":{"topic":"x"},"__proto__":{"admin":true}}',
    '{"agent":"research","input":{"topic":"x","constructor":{"prototype":{"admin":true}}}}',
    '{"agent":"research","input":{"topic":"\\ud800"}}',
    '{"agent":"research","input":{"topic":"x"},"input":{"topic":"y"}}',
    '{"agent":"research","input":{"topic":1e400}}',
    'null',
    '""',
    '[]',
    '',
  ),
);

const postBody: fc.Arbitrary<Body> = fc.oneof(
  {
    arbitrary: fc.record({
      payload: runRequestShaped.map((request) => JSON.stringify(request)),
      contentType: contentTypes,
    }),
    weight: 4,
  },
  fc.record({ payload: retried, contentType: fc.constant(jsonContentType) }),
  fc.record({ payload: fc.json({ maxDepth: 4 }), contentType: contentTypes }),
  fc.record({
    payload: fc.anything().map((value) => JSON.stringify(value) ?? ''),
    contentType: contentTypes,
  }),
  fc.record({ payload: nearTheLimit, contentType: contentTypes }),
  fc.record({ payload: notJson, contentType: contentTypes }),
  fc.record({
    payload: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    contentType: contentTypes,
  }),
);

/** For a value out of JSON.parse, which yields nothing z.json() rejects but out-of-range numbers' infinities. */
function holdsOnlyFiniteNumbers(value: unknown): value is RunRequest['input'] {
  const pending = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'number' && !Number.isFinite(next)) return false;
    if (typeof next === 'object' && next !== null) pending.push(...Object.values(next));
  }
  return true;
}

/**
 * The test's own verdict on a parsed body. zod recurses, and the test's stack is not the handler's:
 * when the input nests too deeply for it here, RunRequest still checks every other field, and an
 * iterative walk checks the input.
 */
function validRunRequest(body: unknown): RunRequest | undefined {
  try {
    const verdict = RunRequest.safeParse(body);
    return verdict.success ? verdict.data : undefined;
  } catch (error) {
    if (!(error instanceof RangeError) || typeof body !== 'object' || body === null || !('input' in body)) {
      throw error;
    }
    const { input, ...fields } = body;
    const verdict = RunRequest.safeParse({ ...fields, input: null });
    return verdict.success && holdsOnlyFiniteNumbers(input) ? { ...verdict.data, input } : undefined;
  }
}

// Parameters ------------------------------------------------------------------------------------------------

/** Picked when a call is generated, so runs accepted by earlier properties are read back too. */
const knownRunId = fc.nat().map((index) => {
  const runIds = [...acceptedRuns.keys()];
  return runIds[index % runIds.length] ?? 'run_none_accepted';
});
const runIdSegment = fc.oneof(
  { arbitrary: knownRunId, weight: 3 },
  fc.stringMatching(/^run_[a-zA-Z0-9_-]{8,64}$/),
  knownRunId.chain((runId) =>
    fc.oneof(
      fc.constant(runId.toUpperCase()),
      fc.constant(`${runId} `),
      fc.integer({ min: 0, max: runId.length - 1 }).map((end) => runId.slice(0, end)),
      fc.string({ minLength: 1, maxLength: 200 }).map((suffix) => `${runId}${suffix}`),
    ),
  ),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('', '.', '..', '/', '%', '?', '#', 'run_../../..', 'run_%00%00%00%00%00'),
);
const tenantQuery = fc.oneof(
  { arbitrary: fc.constantFrom(...knownTenants), weight: 3 },
  fc.constant(undefined),
  fc.stringMatching(/^[a-zA-Z0-9_.-]{1,64}$/),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('', 'acme:x', '{acme}', 'acme ', 'a'.repeat(65), '*', '__proto__'),
  fc.array(fc.constantFrom(...knownTenants), { minLength: 2, maxLength: 3 }),
);
type RunReadParameters = { runId: string; tenantId: string | string[] | undefined };

const queryOf = (tenantId: string | string[] | undefined) =>
  tenantId === undefined
    ? ''
    : `?${[tenantId]
        .flat()
        .map((value) => `tenantId=${encodeURIComponent(value)}`)
        .join('&')}`;

// The endpoints ---------------------------------------------------------------------------------------------

const submitRun: Endpoint<null> = {
  method: 'POST',
  route: '/v1/runs',
  parameters: fc.constant(null),
  url: () => '/v1/runs',
  body: postBody,
  checkResponse: (_parameters, body, response) => {
    if (body === undefined) throw new Error('POST /v1/runs is always sent a body');
    const bytes = Buffer.byteLength(body.payload);
    if (response.statusCode === 413) expect(bytes).toBeGreaterThan(bodyLimitBytes);
    if (bytes > bodyLimitBytes && body.contentType === jsonContentType) expect(response.statusCode).toBe(413);
    if (response.statusCode >= 300) return;
    expect([200, 202]).toContain(response.statusCode);
    // Fastify's JSON parser skips a byte order mark, as RFC 8259 allows a parser to.
    const request = validRunRequest(JSON.parse(body.payload.toString().replace(/^\uFEFF/, '')));
    if (request === undefined) throw new Error(`a ${response.statusCode} for a body RunRequest rejects`);
    const { runId, status } = response.json();
    expect(status).toBe('queued');
    expect(response.headers.location).toBe(`/v1/runs/${runId}`);
    if (response.statusCode === 202) {
      expect(acceptedRuns.has(runId), 'a 202 must be a new run').toBe(false);
      acceptedRuns.set(runId, { tenantId: request.tenantId, request });
    } else {
      expect(response.headers['idempotent-replayed']).toBe('true');
      expect(acceptedRuns.get(runId)?.tenantId, 'a 200 must replay a run of the same tenant').toBe(
        request.tenantId,
      );
    }
  },
};

const readRun: Endpoint<RunReadParameters> = {
  method: 'GET',
  route: '/v1/runs/:runId',
  parameters: fc.record({ runId: runIdSegment, tenantId: tenantQuery }),
  url: ({ runId, tenantId }) => `/v1/runs/${encodeURIComponent(runId)}${queryOf(tenantId)}`,
  checkResponse: (parameters, _body, response) => {
    const tenantId = parameters.tenantId ?? 'default';
    const exists = typeof tenantId === 'string' && acceptedRuns.get(parameters.runId)?.tenantId === tenantId;
    expect(response.statusCode === 200, `run exists for that tenant: ${exists}`).toBe(exists);
    if (exists) expect(response.json()).toMatchObject({ runId: parameters.runId, tenantId });
  },
};

const tableEntry = <Parameters>(spec: Endpoint<Parameters>) => ({
  name: `${spec.method} ${spec.route}`,
  calls: callsOf(spec),
  malformedUrls: callsWithMalformedUrls(spec),
});

/** Control bodies: the right shape, wrong shapes, anything at all, or none. */
const controlBody: fc.Arbitrary<Body | undefined> = fc.oneof(
  fc.constant(undefined),
  fc
    .record(
      {
        approved: fc.oneof(fc.boolean(), jsonValue),
        comment: fc.oneof(fc.string({ maxLength: 3_000 }), jsonValue),
        reason: fc.oneof(fc.string({ maxLength: 600 }), jsonValue),
      },
      { requiredKeys: [] },
    )
    .map((value) => ({ payload: JSON.stringify(value), contentType: jsonContentType })),
  jsonValue.map((value) => ({ payload: JSON.stringify(value), contentType: jsonContentType })),
  fc.string().map((text) => ({ payload: text, contentType: jsonContentType })),
);

/** Only unknown runs, so the runs other properties accepted stay queued for the queue property. */
const unknownRunId = fc.oneof(
  fc.stringMatching(/^run_[a-zA-Z0-9_-]{8,64}$/),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

type ControlParameters = { runId: string; callId: string; tenantId: string | string[] | undefined };

const cancelRun: Endpoint<ControlParameters> = {
  method: 'POST',
  route: '/v1/runs/:runId/cancel',
  parameters: fc.record({ runId: unknownRunId, callId: fc.constant(''), tenantId: tenantQuery }),
  url: ({ runId, tenantId }) => `/v1/runs/${encodeURIComponent(runId)}/cancel${queryOf(tenantId)}`,
  body: controlBody.map((body) => body ?? { payload: '', contentType: undefined }),
  checkResponse: (_parameters, _body, response) => {
    expect(response.statusCode, 'no unknown run can be cancelled').toBeGreaterThanOrEqual(400);
  },
};

const decideApproval: Endpoint<ControlParameters> = {
  method: 'POST',
  route: '/v1/runs/:runId/approvals/:callId',
  // Known runs are queued, not waiting for a decision: a decision on them must be refused too.
  parameters: fc.record({
    runId: fc.oneof(knownRunId, unknownRunId),
    callId: fc.string({ maxLength: 300 }),
    tenantId: tenantQuery,
  }),
  url: ({ runId, callId, tenantId }) =>
    `/v1/runs/${encodeURIComponent(runId)}/approvals/${encodeURIComponent(callId)}${queryOf(tenantId)}`,
  body: controlBody.map((body) => body ?? { payload: '', contentType: undefined }),
  checkResponse: (_parameters, _body, response) => {
    expect(response.statusCode, 'no run here awaits a decision').toBeGreaterThanOrEqual(400);
  },
};

/** The decision with the call id in the body: right shapes, wrong shapes, anything. */
const approveBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .record(
      {
        callId: fc.oneof(fc.string({ maxLength: 300 }), jsonValue),
        approved: fc.oneof(fc.boolean(), jsonValue),
        comment: fc.oneof(fc.string({ maxLength: 3_000 }), jsonValue),
      },
      { requiredKeys: [] },
    )
    .map((value) => ({ payload: JSON.stringify(value), contentType: jsonContentType })),
  controlBody.map((body) => body ?? { payload: '', contentType: undefined }),
);

const approve: Endpoint<ControlParameters> = {
  method: 'POST',
  route: '/v1/runs/:runId/approve',
  parameters: fc.record({
    runId: fc.oneof(knownRunId, unknownRunId),
    callId: fc.constant(''),
    tenantId: tenantQuery,
  }),
  url: ({ runId, tenantId }) => `/v1/runs/${encodeURIComponent(runId)}/approve${queryOf(tenantId)}`,
  body: approveBody,
  checkResponse: (_parameters, _body, response) => {
    expect(response.statusCode, 'no run here awaits a decision').toBeGreaterThanOrEqual(400);
  },
};

/** Fork bodies: the right shape with wrong values, wrong shapes, anything. */
const forkBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .record(
      {
        fromStep: fc.oneof(fc.integer({ min: -5, max: 2_000 }), jsonValue),
        models: fc.oneof(
          fc.record(
            {
              plan: fc.array(fc.oneof(fc.constantFrom('openai:gpt-4.1', 'x', ''), fc.string()), {
                maxLength: 10,
              }),
              execute: jsonValue,
            },
            { requiredKeys: [] },
          ),
          jsonValue,
        ),
        idempotencyKey: fc.oneof(fc.string({ maxLength: 300 }), jsonValue),
        limits: jsonValue,
        webhook: fc.oneof(fc.record({ url: fc.oneof(fc.webUrl(), fc.string()) }), jsonValue),
      },
      { requiredKeys: [] },
    )
    .map((value) => ({ payload: JSON.stringify(value), contentType: jsonContentType })),
  controlBody.map((body) => body ?? { payload: '', contentType: undefined }),
);

/** Only unknown runs: a fork of a known run would queue a run the queue property does not expect. */
const forkRun: Endpoint<ControlParameters> = {
  method: 'POST',
  route: '/v1/runs/:runId/fork',
  parameters: fc.record({ runId: unknownRunId, callId: fc.constant(''), tenantId: tenantQuery }),
  url: ({ runId, tenantId }) => `/v1/runs/${encodeURIComponent(runId)}/fork${queryOf(tenantId)}`,
  body: forkBody,
  checkResponse: (_parameters, _body, response) => {
    expect(response.statusCode, 'no unknown run can be forked').toBeGreaterThanOrEqual(400);
  },
};

const endpoints = [
  tableEntry(submitRun),
  tableEntry(readRun),
  tableEntry(cancelRun),
  tableEntry(decideApproval),
  tableEntry(approve),
  tableEntry(forkRun),
];

// The checks every endpoint shares ---------------------------------------------------------------------------

const repositoryRoot = new URL('../../../', import.meta.url).pathname;
/** Text that only a leaked stack trace or error dump puts in a body. */
const internals = [/ {4}at /, /\.ts:\d/, /\.[cm]?js:\d+:\d+/, /node:internal/];

function expectWellBehaved(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body).toBeLessThan(500);
  for (const pattern of internals) expect(response.body, 'a body leaks a stack trace').not.toMatch(pattern);
  expect(response.body.includes(repositoryRoot), 'a body leaks a server path').toBe(false);
  if (response.statusCode < 400) return;
  expect(response.headers['content-type']).toContain('application/problem+json');
  expect(response.json()).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status: response.statusCode,
    detail: expect.any(String),
  });
}

describe('API properties on a real Redis', () => {
  let redis: TestRedis;
  let app: FastifyInstance;
  const logger = createLogger({ service: 'api-properties-test', level: 'silent' });

  const send = (call: Pick<Call, 'method' | 'url' | 'body'>) =>
    app.inject({
      method: call.method,
      url: call.url,
      ...(call.body === undefined ? {} : { payload: call.body.payload }),
      headers: {
        authorization: `Bearer ${keys[tenantOfCall(call)] ?? 'a-key-nobody-has'}`,
        ...(call.body?.contentType === undefined ? {} : { 'content-type': call.body.contentType }),
      },
    });

  const expectEveryCallWellBehaved = (calls: fc.Arbitrary<Call>, numRuns: number) =>
    fc.assert(
      fc.asyncProperty(calls, async (call) => {
        const response = await send(call);
        expectWellBehaved(response);
        call.checkResponse(response);
      }),
      { numRuns },
    );

  beforeAll(async () => {
    redis = await useTestRedis('producer');
    const config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_API_BODY_LIMIT_BYTES: String(bodyLimitBytes),
    });
    const { bound } = bindModels(research, createModelCatalog({ openai: {} }));
    await redis.client.hset(redis.keys.agents, 'research', JSON.stringify(manifestOf(bound, Date.now())));
    app = await buildApi({ config, redis: redis.client, logger, authentication });
    // Runs to read back, so the read property finds existing runs even when it runs alone.
    for (const tenantId of knownTenants) {
      const request = RunRequest.parse({ agent: 'research', input: { topic: 'seed' }, tenantId });
      const response = await send({
        method: 'POST',
        url: '/v1/runs',
        body: { payload: JSON.stringify(request), contentType: jsonContentType },
      });
      expect(response.statusCode).toBe(202);
      acceptedRuns.set(response.json().runId, { tenantId, request });
    }
  });
  afterAll(async () => {
    await app?.close();
    await redis?.close();
  });

  for (const { name, calls, malformedUrls } of endpoints) {
    it(`${name}: never a 5xx, every 4xx a problem body, no stack traces, 2xx only when entitled`, async () => {
      await expectEveryCallWellBehaved(calls, 200);
    });

    it(`${name}: a malformed URL is a problem body too, never a 5xx`, async () => {
      await expectEveryCallWellBehaved(malformedUrls, 100);
    });
  }

  /**
   * The deepest nesting that got past validation, arrays and objects apart. It moves with the stack
   * size, the Node version and how warm the JIT is, so it is measured, warming the handler as steady
   * traffic would; the runs this creates are recorded like any other.
   */
  async function deepestValidatedNesting(arrays: boolean) {
    let deepest = 1;
    for (let depth = 500; depth <= 6_000; depth += 100) {
      const body = { payload: nestedRequest(depth, arrays), contentType: jsonContentType };
      const response = await send({ method: 'POST', url: '/v1/runs', body });
      submitRun.checkResponse(null, body, response);
      if (response.statusCode !== 400) deepest = depth;
    }
    return deepest;
  }

  it('POST /v1/runs: input nested to any depth is never a 5xx', async () => {
    const nestedBodies: fc.Arbitrary<Body>[] = [];
    for (const arrays of [true, false]) {
      const deepest = await deepestValidatedNesting(arrays);
      // Just under where validation gives up, a body passes it and meets whatever recurses next.
      const nearTheEdge = fc.integer({ min: Math.max(1, deepest - 500), max: deepest + 200 });
      const depth = fc.oneof({ arbitrary: nearTheEdge, weight: 3 }, fc.integer({ min: 1, max: 13_000 }));
      nestedBodies.push(
        depth.map((levels) => ({ payload: nestedRequest(levels, arrays), contentType: jsonContentType })),
      );
    }
    await expectEveryCallWellBehaved(callsOf({ ...submitRun, body: fc.oneof(...nestedBodies) }), 200);
  });

  it('queues exactly the runs it accepted, each as the request that was validated', async () => {
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    try {
      const jobs = await queue.getJobs([
        'wait',
        'waiting-children',
        'delayed',
        'prioritized',
        'active',
        'completed',
        'failed',
      ]);
      expect(jobs.map((job) => job.id).sort()).toEqual([...acceptedRuns.keys()].sort());
      expect(await queue.count()).toBe(acceptedRuns.size);
      for (const job of jobs) {
        const accepted = acceptedRuns.get(job.id ?? '');
        expect(job.data.runId).toBe(job.id);
        expect(validRunRequest(job.data.request)).toBeDefined();
        // Compared apart because a deeply nested input would overflow a recursive equality check.
        const { input: queuedInput, ...queuedFields } = job.data.request;
        const { input: acceptedInput, ...acceptedFields } = accepted?.request ?? {};
        expect(queuedFields).toEqual(acceptedFields);
        expect(JSON.stringify(queuedInput)).toBe(JSON.stringify(acceptedInput));
      }
    } finally {
      await queue.close();
    }
  });
});
