import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiKeyring, buildApi } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { isTerminalStatus, type RunState, runIdFor, runJob } from '@plainloop/contracts';
import { type RedisConnection, RunStore } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';
import { type TestRedis, useTestRedis } from '@plainloop/testing';
import { type JobsOptions, Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fleet, startFleet, waitFor } from './test-fixtures/fleet-harness.ts';

const run = promisify(execFile);
const producers = fileURLToPath(new URL('../../../examples/producers/', import.meta.url));
const curlScript = join(producers, 'enqueue-with-curl.sh');
const pythonExample = join(producers, 'enqueue_with_bullmq.py');
const exampleAgents = fileURLToPath(new URL('../../../examples/agents/src/index.ts', import.meta.url));
const runJobSchema = fileURLToPath(
  new URL('../../../packages/contracts/schemas/run-job.schema.json', import.meta.url),
);
const key = 'key-of-the-acme-tenant-for-producers';
const logger = createLogger({ service: 'test', level: 'silent' });

type PythonJob = { name: string; jobId: string; data: { runId: string }; opts: Record<string, unknown> };

/** Calls `build_job` of the Python example, imported from its file as a user's program would. */
async function buildJobInPython(keywordArguments: Record<string, unknown>): Promise<PythonJob> {
  const program = [
    'import importlib.util, json, sys',
    'spec = importlib.util.spec_from_file_location("enqueue_with_bullmq", sys.argv[1])',
    'example = importlib.util.module_from_spec(spec)',
    'spec.loader.exec_module(example)',
    'job_id, data, opts = example.build_job(**json.loads(sys.argv[2]))',
    'print(json.dumps({"name": example.JOB_NAME, "jobId": job_id, "data": data, "opts": opts}))',
  ].join('\n');
  const { stdout } = await run('python3', ['-c', program, pythonExample, JSON.stringify(keywordArguments)], {
    timeout: 10_000,
  });
  return JSON.parse(stdout) as PythonJob;
}

/**
 * A stand-in for Python's `bullmq` package that writes down how the example called it, and only on
 * `await queue.close()`, so a call that was never awaited leaves nothing. PyPI cannot be reached from
 * this machine, so the real package is not installed; this checks the example's own code around it.
 */
const recordingBullmq = `
import json, os

class Queue:
    def __init__(self, name, opts):
        self.call = {"queue": name, "queueOptions": opts}

    async def add(self, name, data, opts):
        self.call.update({"name": name, "data": data, "opts": opts})

    async def close(self):
        with open(os.environ["RECORDED_CALL"], "w") as file:
            json.dump(self.call, file)
`;

type RecordedCall = {
  queue: string;
  queueOptions: { connection: string; prefix: string };
  name: string;
  data: { runId: string };
  opts: Record<string, unknown>;
};

// Real processes, as a user runs them: the curl script and python3 against the HTTP API and a worker
// process with the example agents on the offline scripted model, all on a private Redis.
describe('the producer examples', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  let producer: RedisConnection;
  let store: RunStore;
  let fleet: Fleet;
  let api: FastifyInstance;
  let apiUrl: string;
  let scratch: string;

  beforeAll(async () => {
    redis = await useTestRedis();
    producer = redis.connect('worker');
    store = new RunStore(producer, redis.keys);
    scratch = await mkdtemp(join(tmpdir(), 'plainloop-producers-'));
    fleet = await startFleet({ redisUrl: redis.url, prefix: redis.prefix, agentsPath: exampleAgents });
    fleet.startWorker('worker-1');
    api = await buildApi({
      config: loadConfig({ PLAINLOOP_REDIS_PREFIX: redis.prefix }),
      redis: redis.connect('producer'),
      logger,
      authentication: { keyring: ApiKeyring.of({ [key]: 'acme' }) },
    });
    await api.listen({ host: '127.0.0.1', port: 0 });
    apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    await waitFor('the worker to publish the example agents', async () =>
      (await producer.hexists(redis.keys.agents, 'research')) ? true : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await fleet?.stop();
    await redis?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const curl = (args: string[], environment: Record<string, string> = {}) =>
    run('bash', [curlScript, ...args], {
      env: {
        PATH: process.env.PATH,
        PLAINLOOP_API_URL: apiUrl,
        PLAINLOOP_API_KEY: key,
        PLAINLOOP_WAIT_SECONDS: '30',
        ...environment,
      },
      timeout: 40_000,
    });

  const settled = (tenantId: string, runId: string) =>
    waitFor(`run ${runId} to end`, async () => {
      const state = await store.load(tenantId, runId);
      return state && isTerminalStatus(state.status) ? state : undefined;
    });

  it('curl: starts a run over HTTP, follows it to the end and prints the succeeded run', async () => {
    // Quotes and a backslash, which the script has to escape to put the key into JSON.
    const idempotencyKey = 'order "42" \\ retry';
    const { stdout, stderr } = await curl(['research', '{"topic": "stalled jobs"}'], {
      PLAINLOOP_IDEMPOTENCY_KEY: idempotencyKey,
    });
    const printed = JSON.parse(stdout) as { runId: string; status: string; output: unknown };
    expect(printed).toMatchObject({ agent: 'research', tenantId: 'acme', status: 'succeeded' });
    expect(printed.runId).toBe(runIdFor({ tenantId: 'acme', idempotencyKey }));
    const stored = (await store.load('acme', printed.runId)) as RunState;
    expect(printed.output).toEqual(stored.output);
    expect(printed.output).toMatchObject({ summary: expect.any(String), sources: expect.any(Array) });
    expect(stderr).toContain(`run ${printed.runId} succeeded`);

    // The same key again is the same run, already finished: printed at once, still a success.
    const again = await curl(['research', '{"topic": "stalled jobs"}'], {
      PLAINLOOP_IDEMPOTENCY_KEY: idempotencyKey,
    });
    expect(JSON.parse(again.stdout)).toMatchObject({ runId: printed.runId, status: 'succeeded' });
  });

  it('curl: exits non-zero with the API problem when the agent is unknown', async () => {
    const failed = await curl(['no-such-agent', '{}']).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('POST /v1/runs answered 422');
    expect(failed?.stderr).toContain('unknown_agent');
    expect(failed?.stdout).toBe('');
  });

  it('python: builds the job the schema and runIdFor describe, and the worker runs exactly that job', async () => {
    const idempotencyKey = 'invoice-ü-42';
    const buildArguments = {
      agent: 'research',
      input: { topic: 'fencing tokens' },
      tenant_id: 'acme',
      idempotency_key: idempotencyKey,
    };
    const built = await buildJobInPython(buildArguments);
    const schema = z.fromJSONSchema(JSON.parse(await readFile(runJobSchema, 'utf8')));
    // zod reads the committed JSON Schema here because apps/cli does not depend on ajv; the contracts
    // test checks the same file with ajv.
    expect(schema.safeParse(built.data).error).toBeUndefined();
    expect(built.jobId).toBe(runIdFor({ tenantId: 'acme', idempotencyKey }));
    expect(built.data.runId).toBe(built.jobId);
    expect(built.name).toBe(runJob.jobName);
    expect(built.opts).toEqual({ ...runJob.options, jobId: built.jobId });
    expect((await buildJobInPython(buildArguments)).jobId).toBe(built.jobId);
    expect((await buildJobInPython({ ...buildArguments, idempotency_key: 'invoice-43' })).jobId).not.toBe(
      built.jobId,
    );

    // main() and enqueue() against the stand-in bullmq: the queue, prefix and connection they use.
    const standIn = join(scratch, 'stand-in');
    await mkdir(join(standIn, 'bullmq'), { recursive: true });
    await writeFile(join(standIn, 'bullmq', '__init__.py'), recordingBullmq);
    const recordedPath = join(scratch, 'recorded-call.json');
    const main = await run(
      'python3',
      [
        pythonExample,
        'research',
        '{"topic": "fencing tokens"}',
        '--tenant',
        'acme',
        '--idempotency-key',
        idempotencyKey,
      ],
      {
        env: {
          PATH: process.env.PATH,
          PYTHONPATH: standIn,
          REDIS_URL: redis.url,
          PLAINLOOP_REDIS_PREFIX: redis.prefix,
          RECORDED_CALL: recordedPath,
        },
        timeout: 10_000,
      },
    );
    expect(main.stdout.trim()).toBe(built.jobId);
    const call = JSON.parse(await readFile(recordedPath, 'utf8')) as RecordedCall;
    expect(call).toEqual({
      queue: runJob.queueName,
      queueOptions: { connection: redis.url, prefix: redis.keys.queuePrefix },
      name: built.name,
      data: built.data,
      opts: built.opts,
    });

    // What the real package would then do, done with Node's BullMQ: the same queue, prefix, name, id,
    // data and options. The Python bullmq call itself is not run: PyPI is unreachable from here.
    const queue = new Queue(call.queue, { connection: producer, prefix: call.queueOptions.prefix });
    try {
      await queue.add(call.name, call.data, call.opts as JobsOptions);
    } finally {
      await queue.close();
    }
    const ended = await settled('acme', built.jobId);
    expect(ended).toMatchObject({
      status: 'succeeded',
      agent: 'research',
      input: { topic: 'fencing tokens' },
    });
  });
});
