import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RunJobData, runJob } from '../src/run-job.ts';

/** The committed JSON Schema of a run job's data, for producers that enqueue from other languages. */
export const runJobSchemaPath = fileURLToPath(new URL('../schemas/run-job.schema.json', import.meta.url));

/**
 * What the schema cannot express, said where a reader of the schema looks. Kept beside the generation
 * so a new rule in `RunRequest` and its sentence here change together.
 */
const descriptions = {
  document:
    `The data of a job on the BullMQ queue \`${runJob.queueName}\` (prefix \`{plainloop}\`, the configured ` +
    `PLAINLOOP_REDIS_PREFIX in braces; job name \`${runJob.jobName}\`; job id equal to \`runId\`; options as ` +
    '`runJob.options` of @plainloop/contracts). The worker validates ' +
    'it with the zod schema `RunJobData` of @plainloop/contracts, from which this file is generated: ' +
    'a job that does not fit fails without ever becoming a run.',
  runId:
    'The run id, also the BullMQ job id. Without an idempotency key, `run_` and 32 random hex digits; with ' +
    'one, `run_` and the first 32 hex digits of SHA-256 over the tenant id, a NUL byte and the key, so ' +
    'enqueueing the same run twice lands on the same job.',
  input:
    "The agent's input: any JSON value that fits the agent's input schema (GET /v1/agents), nested at " +
    'most 64 levels deep, with no object key `__proto__`. The worker checks it against the agent.',
  tenantId: 'The tenant the run belongs to; `default` when absent. A derived run id depends on it.',
  webhook: 'Where the result is POSTed when the run ends; an absolute http or https URL.',
};

type JsonSchemaObject = { properties: Record<string, JsonSchemaObject> } & Record<string, unknown>;

/** Puts a description first in a property's schema; a property that is gone is an error, not a no-op. */
function describe(schema: JsonSchemaObject, property: string, description: string) {
  const current = schema.properties[property];
  if (current === undefined) throw new Error(`RunJobData has no property ${property} to describe`);
  schema.properties[property] = { description, ...current };
}

/**
 * The schema as a producer needs it: the input side of `RunJobData` (fields with defaults are
 * optional), draft 2020-12. Unrepresentable parts throw rather than silently widen, so a change to
 * `RunRequest` that JSON Schema cannot say is noticed here.
 */
export function runJobJsonSchema(): Record<string, unknown> {
  const { $schema, ...generated } = z.toJSONSchema(RunJobData, {
    target: 'draft-2020-12',
    io: 'input',
  }) as JsonSchemaObject;
  describe(generated as JsonSchemaObject, 'runId', descriptions.runId);
  const request = generated.properties.request as JsonSchemaObject;
  describe(request, 'input', descriptions.input);
  describe(request, 'tenantId', descriptions.tenantId);
  describe(request, 'webhook', descriptions.webhook);
  return {
    $schema,
    $id: 'https://plainloop.dev/schemas/run-job.schema.json',
    title: 'RunJobData',
    description: descriptions.document,
    ...generated,
  };
}

/** Writes the schema formatted as Biome formats JSON, so `biome check` passes on the written file. */
function writeRunJobSchema() {
  const formatted = execFileSync(
    'npx',
    ['--no', 'biome', 'format', `--stdin-file-path=${runJobSchemaPath}`],
    {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      input: JSON.stringify(runJobJsonSchema()),
      encoding: 'utf8',
    },
  );
  writeFileSync(runJobSchemaPath, formatted);
  console.log(`wrote ${runJobSchemaPath}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeRunJobSchema();
