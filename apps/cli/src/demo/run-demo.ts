import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PlainloopClient, type Run } from '@plainloop/client';
import type { PlainloopConfig } from '@plainloop/config';
import type { AgentManifest } from '@plainloop/contracts';
import {
  checkRedisReachable,
  connectRedis,
  createKeySchema,
  describeRedisUrl,
  type PrivateRedisServer,
  startPrivateRedisServer,
} from '@plainloop/redis';
import { RunEventStream } from '@plainloop/telemetry';
import { demoFork } from './demo-fork.ts';
import { demoRuns } from './demo-runs.ts';
import { describeEvent } from './describe-event.ts';
import {
  exitOfAny,
  type FleetProcess,
  freePort,
  startPlainloopProcess,
  stopProcesses,
} from './fleet-processes.ts';
import { formatTable } from './format-table.ts';
import { metricsSummary } from './metrics-summary.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

export type DemoOptions = {
  config: PlainloopConfig;
  environment: NodeJS.ProcessEnv;
  agentsPath: string;
  output?: NodeJS.WritableStream;
  /** How long the runs may take before the demo gives up. */
  timeoutMs?: number;
};

/** The demo's own API key, made for this run of the demo: the API never runs without keys. */
const demoKey = `demo-${randomUUID()}`;

async function waitForAgents(
  client: PlainloopClient,
  names: string[],
  deadline: number,
): Promise<AgentManifest[]> {
  while (Date.now() < deadline) {
    try {
      const agents = await client.agents();
      if (names.every((name) => agents.some((agent) => agent.name === name))) return agents;
    } catch {
      // The API is still starting.
    }
    await sleep(150);
  }
  throw new Error('the API and workers did not come up within 30 seconds');
}

/**
 * `plainloop demo`: a first look at the whole fleet on one machine. Starts Redis if REDIS_URL is unset,
 * the API and two worker processes, enqueues runs of the example agents over HTTP, prints each run's
 * events as they happen and a summary table, shows a webhook delivered and verified and a fork of a
 * finished run, then stops everything. Exits 0 when every run, the webhook and the fork succeeded.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const output = options.output ?? process.stdout;
  const say = (line = '') => output.write(`${line}\n`);
  const offline = !options.config.providers.openai.apiKey && !options.config.providers.openai.baseUrl;

  say('plainloop demo: one API, two workers, the example agents.');
  let privateServer: PrivateRedisServer | undefined;
  let redisUrl = options.config.redis.url;
  if (redisUrl) {
    await checkRedisReachable(redisUrl);
    say(`Redis: ${describeRedisUrl(redisUrl)} (from REDIS_URL)`);
  } else {
    privateServer = await startPrivateRedisServer();
    redisUrl = privateServer.url;
    say(`Redis: REDIS_URL is unset, so a private redis-server runs on ${redisUrl} for this demo`);
  }
  const prefix = `plainloop-demo-${randomUUID().slice(0, 6)}`;
  const logDirectory = await mkdtemp(join(tmpdir(), 'plainloop-demo-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  // The deployment's webhook secret: the fleet derives each tenant's signing secret from it.
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const childEnvironment: NodeJS.ProcessEnv = {
    ...options.environment,
    REDIS_URL: redisUrl,
    PLAINLOOP_REDIS_PREFIX: prefix,
    PORT: String(port),
    HOST: '127.0.0.1',
    PLAINLOOP_AGENTS: options.agentsPath,
    PLAINLOOP_CONCURRENCY: '2',
    PLAINLOOP_METRICS_PORT: String(metricsPort),
    // Two workers on one machine: each serves its health endpoints on a free port of its own.
    PLAINLOOP_WORKER_HEALTH_PORT: '0',
    PLAINLOOP_API_KEYS: `default:${demoKey}`,
    PLAINLOOP_WEBHOOK_SECRET: webhookSecret,
    // The demo's webhook receiver is on this machine; a deployment refuses private targets by default.
    PLAINLOOP_WEBHOOK_ALLOW_PRIVATE: 'true',
  };
  const fleet: FleetProcess[] = [
    startPlainloopProcess('api', ['api'], childEnvironment, logDirectory),
    startPlainloopProcess('worker-1', ['worker'], childEnvironment, logDirectory),
    startPlainloopProcess('worker-2', ['worker'], childEnvironment, logDirectory),
    startPlainloopProcess('metrics', ['metrics'], childEnvironment, logDirectory),
  ];
  const fleetDied = exitOfAny(fleet);
  fleetDied.catch(() => {});
  const redis = await connectRedis(redisUrl, 'worker', 'plainloop-demo');
  const events = new RunEventStream(redis, createKeySchema(prefix));
  const client = new PlainloopClient({ baseUrl, apiKey: demoKey });
  let receiver: WebhookReceiver | undefined;
  try {
    const agents = await Promise.race([
      waitForAgents(client, ['research', 'lead-qualification'], Date.now() + 30_000),
      fleetDied,
    ]);
    // One run reports its end to a webhook receiver of the demo's own, which verifies it as a tenant's
    // backend would: with the tenant's secret (the demo's tenant is `default`), from the API.
    const { secret: tenantSecret } = await client.webhookSecret();
    receiver = await startWebhookReceiver(tenantSecret);
    say(`API: ${baseUrl}   workers: 2 processes × concurrency 2   metrics: ${metricsUrl}/metrics`);
    say(`logs: ${logDirectory}`);
    for (const agent of agents)
      say(
        `agent ${agent.name}: plan ${agent.models.plan.join(' → ')}, execute ${agent.models.execute.join(' → ')}`,
      );
    if (offline) {
      say(
        'No OPENAI_API_KEY: the openai models are left out and the scripted offline model answers (deterministic, no network).',
      );
    }
    say();

    const started = Date.now();
    const since = `${started - 1}-0`;
    const labels = new Map<string, string>();
    for (const [index, { label, request }] of demoRuns.entries()) {
      const withWebhook = index === 0 ? { ...request, webhook: { url: receiver.url } } : request;
      const { runId } = await client.createRun(withWebhook);
      labels.set(runId, label);
    }
    say(`Enqueued ${labels.size} runs with POST /v1/runs. Live events:`);

    const finished = new Set<string>();
    let cursor = events.shardCursor(since);
    const deadline = Date.now() + (options.timeoutMs ?? 90_000);
    while (finished.size < labels.size) {
      if (Date.now() > deadline)
        throw new Error(`runs still unfinished after ${(options.timeoutMs ?? 90_000) / 1000}s`);
      const read = await Promise.race([events.readShards(cursor, 1_000), fleetDied]);
      cursor = read.cursor;
      for (const { event } of read.events) {
        const label = labels.get(event.runId);
        if (label === undefined) continue;
        say(
          `  [${((event.at - started) / 1000).toFixed(2).padStart(6)}s] ${label.padEnd(11)} ${describeEvent(event)}`,
        );
        if (event.type === 'run.finished') finished.add(event.runId);
      }
    }

    const views: Array<{ label: string; view: Run }> = [];
    for (const [runId, label] of labels) {
      views.push({ label, view: await client.getRun(runId) });
    }
    say();
    say(summaryTable(views));
    say();
    for (const { label, view } of views) {
      say(
        `${label}: ${view.status === 'succeeded' ? JSON.stringify(view.output) : JSON.stringify(view.error)}`,
      );
    }
    if (offline) {
      say();
      say(
        '* scripted: the offline stand-in models. Token counts are estimates (4 characters a token); plan-tier',
      );
      say('  calls are priced as openai:gpt-4.1, execute-tier calls as openai:gpt-4.1-mini, at list prices.');
      say('  Set OPENAI_API_KEY to run the same agents on OpenAI.');
    }
    say();
    say(await metricsSummary(metricsUrl, labels.size, Date.now() + 10_000));

    say();
    const [first] = views;
    const webhookDeadline = Date.now() + 10_000;
    while (receiver.received.length === 0 && Date.now() < webhookDeadline) await sleep(100);
    const delivered = receiver.received.filter((each) => each.verified && each.runId === first?.view.runId);
    say(
      delivered.length === 1
        ? `Webhook: ${first?.label} ended ${delivered[0]?.status}; its result reached ${receiver.url}, signature verified.`
        : `Webhook: ${first?.label}'s result did not arrive at ${receiver.url} (${receiver.received.length} deliveries).`,
    );
    const fork = first
      ? await demoFork(client, { runId: first.view.runId, label: first.label }, 2)
      : { lines: [], succeeded: false };
    for (const line of fork.lines) say(line);

    const failed = views.filter(({ view }) => view.status !== 'succeeded');
    say();
    say(
      failed.length === 0
        ? `All ${views.length} runs succeeded.`
        : `${failed.length} of ${views.length} runs did not succeed.`,
    );
    return failed.length === 0 && delivered.length === 1 && fork.succeeded ? 0 : 1;
  } finally {
    await receiver?.close();
    await stopProcesses(fleet);
    await redis.quit().catch(() => redis.disconnect());
    await privateServer?.stop();
  }
}

function summaryTable(views: Array<{ label: string; view: Run }>): string {
  const headers = [
    'run',
    'agent',
    'status',
    'steps',
    'tokens in',
    'tokens out',
    'cost (USD)',
    'latency',
    'model',
  ];
  const rows = views.map(({ label, view }) => {
    const models = [...new Set(view.steps.map((step) => step.model))];
    const scripted = models.some((model) => model.startsWith('scripted:'));
    return [
      label,
      view.agent,
      view.status,
      String(view.stepCount),
      view.usage.inputTokens.toLocaleString('en-US'),
      view.usage.outputTokens.toLocaleString('en-US'),
      `$${view.costUsd.toFixed(6)}`,
      view.durationMs === undefined ? '-' : `${(view.durationMs / 1000).toFixed(2)}s`,
      `${models.join(', ')}${scripted ? ' *' : ''}`,
    ];
  });
  return formatTable(headers, rows, new Set(['steps', 'tokens in', 'tokens out', 'cost (USD)', 'latency']));
}
