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
import { buildApi } from './build-api.ts';

/** Small enough that bodies on both sides of it are cheap to generate, large enough for real requests. */
const bodyLimitBytes = 16_384;

const model = scriptedModel({ name: 'noop', script: () => ({ text: 'done' }) });
const research = defineAgent({
  name: 'research',
  instructions: 'Research.',
  input: z.object({ topic: z.string().min(1) }),
  models: { plan: [model], execute: [model] },
});

/** The runs the API said it created, by run id: the only jobs the queue may hold and the only runs a read may find. */
const acceptedRuns = new Map<string, { tenantId: string; request: RunRequest }>();
const knownTenants = ['default', 'acme', 'globex'];

type Body = { payload: string | Buffer; contentType: string | undefined };

/** One generated request, with what the endpoint alone knows about the answer it must get. */
type Call = {
  method: 'GET' | 'POST';
  url: string;
  body: Body | undefined;
  checkResponse: (response: LightMyRequestResponse) => void;
};

/**
 * An endpoint under test: its parameters, how they make a URL, the bodies to send, and its own oracle
 * (the shared one, no 5xx and problem bodies without stack traces, applies to all). A new endpoint is
 * one more entry in `endpoints`.
 */
type Endpoint<Parameters> = {
  method: 'GET' | 'POST';
  route: string;
  parameters: fc.Arbitrary<Parameters>;
  url: (parameters: Parameters) => string;
  body?: fc.Arbitrary<Body>;
  checkResponse: (parameters: Parameters, body: Body | undefined, response: LightMyRequestResponse) => void;
};

const endpoint = <Parameters>(spec: Endpoint<Parameters>) => ({
  name: `${spec.method} ${spec.route}`,
  calls: fc
    .tuple(spec.parameters, spec.body ?? fc.constant(undefined))
    .map(([parameters, body]): Call => ({
      method: spec.method,
      url: spec.url(parameters),
      body,
      checkResponse: (response) => spec.checkResponse(parameters, body, response),
    })),
});

// Bodies ---------------------------------------------------------------------------------------------

const jsonContentType = 'application/json';
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
/** Mostly valid, sometimes anything: one wrong field at a time reaches deepest into the handler. */
const mostlyValid = <Value,>(valid: fc.Arbitrary<Value>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ arbitrary: valid, weight: 5 }, ...wrong.map((arbitrary) => ({ arbitrary, weight: 1 })));

const topicInput = fc.record({ topic: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) });
/** A few keys shared by many requests, so replays (200) and conflicts (409) happen, not only new runs. */
const idempotencyKey = fc.oneof(fc.constantFrom('order-1', 'order-2', 'order-3'), fc.string({ maxLength: 300 }));

const runRequestShaped = fc.record(
  {
    agent: mostlyValid(fc.constant('research'), fc.constantFrom('support', 'Research', ''), jsonValue),
    input: mostlyValid(
      topicInput,
      fc.tuple(topicInput, fc.dictionary(fc.string(), jsonValue)).map(([known, extra]) => ({ ...extra, ...known })),
      fc.record({ topic: jsonValue }),
      jsonValue,
    ),
    tenantId: mostlyValid(fc.constantFrom(...knownTenants), fc.stringMatching(/^[a-zA-Z0-9_.-]{1,64}$/), fc.string(), jsonValue),
    threadId: mostlyValid(fc.string({ minLength: 1, maxLength: 256 }), fc.string({ maxLength: 300 }), jsonValue),
    idempotencyKey: mostlyValid(idempotencyKey, jsonValue),
    limits: mostlyValid(
      fc.record(
        { maxIterations: fc.integer({ min: 1, max: 100 }), maxTokens: fc.integer({ min: 1, max: 1_000_000 }) },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.string(), jsonValue),
      jsonValue,
    ),
    metadata: mostlyValid(fc.dictionary(fc.string({ maxLength: 64 }), fc.string({ maxLength: 512 })), jsonValue),
  },
  { requiredKeys: ['agent', 'input'] },
);

/** A valid request padded to `targetBytes`, in multi-byte characters sometimes, since the limit counts bytes. */
const paddedTo = (targetBytes: number, filler: string) => {
  const empty = JSON.stringify({ agent: 'research', input: { topic: '' } });
  const fillerBytes = Buffer.byteLength(filler);
  const room = Math.max(0, targetBytes - Buffer.byteLength(empty));
  const topic = filler.repeat(Math.floor(room / fillerBytes)) + 'x'.repeat(room % fillerBytes);
  return JSON.stringify({ agent: 'research', input: { topic: topic || 'x' } });
};
const nearTheLimit = fc
  .tuple(fc.integer({ min: -64, max: 64 }), fc.constantFrom('x', 'é', '€', '😀'))
  .map(([offset, filler]) => paddedTo(bodyLimitBytes + offset, filler));

const nested = (depth: number, open: string, close: string) => `${open.repeat(depth)}${close.repeat(depth)}`;
const deeplyNested = fc
  .tuple(fc.integer({ min: 1, max: 40_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `{"agent":"research","input":{"topic":"x","deep":${nested(depth, '[', ']')}}}`
      : `{"agent":"research","input":{"topic":"x","deep":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`,
  );

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
  fc.record({ payload: runRequestShaped.map((request) => JSON.stringify(request)), contentType: contentTypes }),
  fc.record({ payload: fc.json({ maxDepth: 4 }), contentType: contentTypes }),
  fc.record({ payload: fc.anything().map((value) => JSON.stringify(value) ?? ''), contentType: contentTypes }),
  fc.record({ payload: nearTheLimit, contentType: contentTypes }),
  fc.record({ payload: deeplyNested, contentType: fc.constant(jsonContentType) }),
  fc.record({ payload: notJson, contentType: contentTypes }),
  fc.record({ payload: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), contentType: contentTypes }),
);

// Parameters ------------------------------------------------------------------------------------------

const acceptedRunIds = () => [...acceptedRuns.keys()];
/** Picked when the call is generated, so runs accepted by earlier properties are read back too. */
const knownRunId = fc.nat().map((index) => {
  const ids = acceptedRunIds();
  return ids[index % ids.length] ?? 'run_missing0';
});
const runIdSegment = fc.oneof(
  knownRunId,
  fc.stringMatching(/^run_[a-zA-Z0-9_-]{8,64}$/),
  knownRunId.chain((runId) =>
    fc.oneof(
      fc.constant(runId.toUpperCase()),
      fc.constant(`${runId} `),
      fc.integer({ min: 0, max: runId.length - 1 }).map((end) => runId.slice(0, end)),
      fc.string({ minLength: 1, maxLength: 4 }).map((suffix) => `${runId}${suffix}`),
    ),
  ),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '.', '..', '/', '%', '?', '#', 'run_../../..', 'run_%00%00%00%00%00'),
);
const tenantQuery = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...knownTenants),
  fc.stringMatching(/^[a-zA-Z0-9_.-]{1,64}$/),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', 'acme:x', '{acme}', 'acme ', 'a'.repeat(65), '*', '__proto__'),
  fc.array(fc.constantFrom(...knownTenants), { minLength: 2, maxLength: 3 }),
);
/** Malformed percent-encoding and reserved characters, as a hand-written or buggy client sends them. */
const rawText = fc.string({ unit: fc.constantFrom('%', '2', 'F', 'E', '0', 'a', '/', '?', '&', '=', '#', '+', ' '), maxLength: 12 });

type RunReadParameters =
  | { kind: 'encoded'; runId: string; tenantId: string | string[] | undefined }
  | { kind: 'raw'; segment: string; query: string };

const queryOf = (tenantId: string | string[] | undefined) =>
  tenantId === undefined
    ? ''
    : `?${[tenantId]
        .flat()
        .map((value) => `tenantId=${encodeURIComponent(value)}`)
        .join('&')}`;

// The table ----------------------------------------------------------------------------------------------

const endpoints = [
  endpoint<null>({
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
      const parsed = RunRequest.safeParse(JSON.parse(body.payload.toString()));
      expect(parsed.success, 'a 2xx for a body RunRequest rejects').toBe(true);
      const { runId, status } = response.json();
      expect(status).toBe('queued');
      expect(response.headers.location).toBe(`/v1/runs/${runId}`);
      if (!parsed.success) return;
      if (response.statusCode === 202) {
        expect(acceptedRuns.has(runId), 'a 202 must be a new run').toBe(false);
        acceptedRuns.set(runId, { tenantId: parsed.data.tenantId, request: parsed.data });
      } else {
        expect(response.headers['idempotent-replayed']).toBe('true');
        expect(acceptedRuns.get(runId)?.tenantId, 'a 200 must replay a run of the same tenant').toBe(
          parsed.data.tenantId,
        );
      }
    },
  }),
  endpoint<RunReadParameters>({
    method: 'GET',
    route: '/v1/runs/:runId',
    parameters: fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('encoded'), runId: runIdSegment, tenantId: tenantQuery }), weight: 4 },
      fc.record({ kind: fc.constant('raw'), segment: rawText, query: rawText }),
    ),
    url: (parameters) =>
      parameters.kind === 'raw'
        ? `/v1/runs/${parameters.segment}?tenantId=${parameters.query}`
        : `/v1/runs/${encodeURIComponent(parameters.runId)}${queryOf(parameters.tenantId)}`,
    checkResponse: (parameters, _body, response) => {
      if (response.statusCode === 200) {
        const run = response.json();
        expect(acceptedRuns.get(run.runId)?.tenantId, 'a 200 must be a run accepted for that tenant').toBe(
          run.tenantId,
        );
      }
      if (parameters.kind === 'raw') return;
      const tenantId = parameters.tenantId ?? 'default';
      const exists = typeof tenantId === 'string' && acceptedRuns.get(parameters.runId)?.tenantId === tenantId;
      expect(response.statusCode === 200, `${parameters.runId} exists for ${String(tenantId)}: ${exists}`).toBe(
        exists,
      );
      if (exists) expect(response.json()).toMatchObject({ runId: parameters.runId, tenantId });
    },
  }),
];

// The shared oracle -----------------------------------------------------------------------------------

const repositoryRoot = new URL('../../../', import.meta.url).pathname;
/** Text that only a leaked stack trace or error dump would put in a body. */
const internals = [/ {4}at /, /\.ts:\d/, /\.[cm]?js:\d+:\d+/, /node:internal/];

function expectNoInternals(text: string) {
  for (const pattern of internals) expect(text, 'a response leaks a stack trace').not.toMatch(pattern);
  expect(text.includes(repositoryRoot), 'a response leaks a server path').toBe(false);
}

function expectProblemBody(response: LightMyRequestResponse) {
  expect(response.headers['content-type']).toContain('application/problem+json');
  const problem = response.json();
  expect(problem).toMatchObject({
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
      ...(call.body === undefined
        ? {}
        : {
            payload: call.body.payload,
            headers: call.body.contentType === undefined ? {} : { 'content-type': call.body.contentType },
          }),
    });

  beforeAll(async () => {
    redis = await useTestRedis('producer');
    const config = loadConfig({
      PLAINLOOP_REDIS_PREFIX: redis.prefix,
      PLAINLOOP_API_BODY_LIMIT_BYTES: String(bodyLimitBytes),
    });
    const { bound } = bindModels(research, createModelCatalog({ openai: {} }));
    await redis.client.hset(redis.keys.agents, 'research', JSON.stringify(manifestOf(bound, Date.now())));
    app = await buildApi({ config, redis: redis.client, logger });
    // Runs to read back, so a read property finds existing runs even when it runs alone.
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

  for (const { name, calls } of endpoints) {
    it(`${name}: never a 5xx, every 4xx a problem body, no stack traces, 2xx only when entitled`, async () => {
      await fc.assert(
        fc.asyncProperty(calls, async (call) => {
          const response = await send(call);
          expect(response.statusCode, response.body).toBeLessThan(500);
          expectNoInternals(response.body);
          if (response.statusCode >= 400) expectProblemBody(response);
          call.checkResponse(response);
        }),
        { numRuns: 200 },
      );
    });
  }

  it('queues exactly the runs it accepted, each as the request that was validated', async () => {
    const queue = createRunQueue(redis.connect('worker'), redis.keys);
    try {
      const jobs = await queue.getJobs(['wait', 'paused', 'delayed', 'prioritized', 'active', 'completed', 'failed']);
      expect(jobs.map((job) => job.id).sort()).toEqual(acceptedRunIds().sort());
      for (const job of jobs) {
        expect(RunRequest.safeParse(job.data.request).success).toBe(true);
        expect(job.data).toEqual({ runId: job.id, request: acceptedRuns.get(job.id ?? '')?.request });
      }
      expect(await queue.count()).toBe(acceptedRuns.size);
    } finally {
      await queue.close();
    }
  });
});
