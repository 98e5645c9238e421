import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { runJobJsonSchema, runJobSchemaPath } from '../scripts/write-run-job-schema.ts';
import { runIdFor } from './run-id.ts';
import { RunJobData } from './run-job.ts';

const committed = JSON.parse(readFileSync(runJobSchemaPath, 'utf8')) as Record<string, unknown>;
// In draft 2020-12 `format` is an annotation unless a validator opts in, as Python's jsonschema does
// not by default; the worker checks the webhook URL itself.
const validate = new Ajv2020({ allErrors: true, validateFormats: false }).compile(committed);

const derivedRunId = runIdFor({ tenantId: 'acme', idempotencyKey: 'order-42' });

const goodPayloads: Record<string, unknown> = {
  'the smallest job (tenant defaults to default)': {
    runId: runIdFor({ tenantId: 'default', idempotencyKey: undefined }),
    request: { agent: 'research', input: { topic: 'stalled jobs' } },
  },
  'every field of a request': {
    runId: derivedRunId,
    request: {
      agent: 'lead-qualification',
      input: ['any', { json: [1, null, true] }],
      tenantId: 'acme',
      threadId: 'customer-42',
      idempotencyKey: 'order-42',
      limits: { maxIterations: 5, maxCostUsd: 0.5, maxTokens: 20_000 },
      metadata: { source: 'python' },
      webhook: { url: 'https://example.com/plainloop' },
    },
  },
};

const badPayloads: Record<string, unknown> = {
  'no run id': { request: { agent: 'research', input: {} } },
  'a run id without the run_ prefix': { runId: 'job-1234567890', request: { agent: 'research', input: {} } },
  'no request': { runId: derivedRunId },
  'no input': { runId: derivedRunId, request: { agent: 'research' } },
  'an agent name with capitals': { runId: derivedRunId, request: { agent: 'Research', input: {} } },
  'a tenant id with a space': {
    runId: derivedRunId,
    request: { agent: 'research', input: {}, tenantId: 'acme corp' },
  },
  'a field the request does not have': {
    runId: derivedRunId,
    request: { agent: 'research', input: {}, priority: 1 },
  },
  'a limit beyond the maximum': {
    runId: derivedRunId,
    request: { agent: 'research', input: {}, limits: { maxIterations: 1_001 } },
  },
  'a metadata value that is not a string': {
    runId: derivedRunId,
    request: { agent: 'research', input: {}, metadata: { attempt: 2 } },
  },
};

describe('the JSON Schema of a run job', () => {
  it('is up to date with RunJobData (run `npm run generate:run-job-schema` when this fails)', () => {
    expect(committed).toEqual(runJobJsonSchema());
  });

  it('is a draft 2020-12 schema with an id and a title', () => {
    expect(committed).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'https://plainloop.dev/schemas/run-job.schema.json',
      title: 'RunJobData',
    });
  });

  it.each(Object.entries(goodPayloads))('accepts %s, as the worker does', (_name, payload) => {
    expect(validate(payload), JSON.stringify(validate.errors)).toBe(true);
    expect(RunJobData.safeParse(payload).success).toBe(true);
  });

  it.each(Object.entries(badPayloads))('rejects %s, as the worker does', (_name, payload) => {
    expect(validate(payload)).toBe(false);
    expect(RunJobData.safeParse(payload).success).toBe(false);
  });

  it('derives the run id the README gives for other languages to check against', () => {
    expect(derivedRunId).toBe('run_c493bc9bbeb88ba74eba4416ee88d99f');
  });

  it('accepts the run ids runIdFor makes, random and derived', () => {
    const request = { agent: 'research', input: {} };
    for (const runId of [runIdFor({ tenantId: 'acme', idempotencyKey: undefined }), derivedRunId])
      expect(validate({ runId, request }), runId).toBe(true);
  });
});
