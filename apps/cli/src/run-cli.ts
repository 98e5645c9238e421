import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { runApiProcess } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { runMetricsProcess } from '@plainloop/metrics';
import { runWorkerProcess } from '@plainloop/worker';
import { approveCommand } from './commands/approve-command.ts';
import { cancelCommand } from './commands/cancel-command.ts';
import type { OutputSink } from './commands/command-line.ts';
import { eventsCommand } from './commands/events-command.ts';
import { forkCommand } from './commands/fork-command.ts';
import { runCommand } from './commands/run-command.ts';
import { runsCommand } from './commands/runs-command.ts';
import { runDemo } from './demo/run-demo.ts';
import { UsageError } from './usage-error.ts';

const usage = `plainloop: production AI agents as a worker fleet on BullMQ and Redis

Usage:
  plainloop demo                                     start Redis (if needed), the API, two workers and metrics; run the example agents
  plainloop worker [--agents <path>] [--concurrency <n>] [--health-port <n>]
                                                     run agent steps from the plainloop-runs queue; /healthz, /readyz on 9465
  plainloop api [--port <n>] [--host <address>] [--insecure]   serve the producer API (keys: PLAINLOOP_API_KEYS)
  plainloop metrics [--port <n>] [--host <address>]  serve Prometheus /metrics from the run events; send alerts
  plainloop help                                     show this

Talking to the API:
  plainloop run <agent> --input '<json>' | @file.json [--thread <id>] [--idempotency-key <key>] [--wait]
                                                     queue a run; --wait follows it (step, tier, model, tokens, cost) to its end
  plainloop runs ls [--status <s>] [--agent <name>] [--thread <id>] [--limit <n>]   the newest runs, as a table
  plainloop runs show <id>                           a run's summary and its timeline, step by step
  plainloop events <id>                              follow a run's events until it finishes
  plainloop cancel <id> [--reason <text>]            cancel a run
  plainloop approve <id> <callId> [--deny] [--comment <text>]   decide a tool call that waits for approval
  plainloop fork <id> --from-step <n> [--plan-model <provider:model>]... [--execute-model <provider:model>]... [--wait]
                                                     a new run that replays the first n steps, then goes on (with other models)
  These take --api-url (PLAINLOOP_API_URL, default http://127.0.0.1:3000), --api-key (PLAINLOOP_API_KEY;
  prefer the variable: flags show in the process list) and --json (machine-readable JSON on stdout;
  events: one JSON object per line).

Exit codes: 0 success (with --wait: the run succeeded); 1 the run ended without success (failed,
cancelled, budget_exceeded, max_iterations) or another failure; 2 a usage error (bad flags, bad JSON
input); 3 the API refused the request (4xx: auth, not found, invalid, conflict); 4 the API is
unreachable, failed (5xx) or rate-limited (429): trying again later may work. Errors are one line on stderr.

Every flag has an environment variable: PLAINLOOP_AGENTS, PLAINLOOP_CONCURRENCY,
PLAINLOOP_WORKER_HEALTH_PORT (worker), PORT (api), PLAINLOOP_METRICS_PORT (metrics), HOST.
Redis comes from REDIS_URL (worker, api and metrics default to redis://127.0.0.1:6379).`;

const defaultRedisUrl = 'redis://127.0.0.1:6379';

/** The path of the example agents, which the demo runs and `plainloop worker` loads by default. */
function exampleAgentsPath(): string {
  return fileURLToPath(import.meta.resolve('@plainloop/example-agents'));
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

/**
 * Runs one `plainloop` command; resolves with the exit code. Errors it cannot handle are thrown
 * (`exitCodeOf` says what they exit with). The API commands write to `output`, so tests can read it.
 */
export async function runCli(
  argv: string[],
  environment: NodeJS.ProcessEnv = process.env,
  output: OutputSink = process.stdout,
): Promise<number> {
  const [command, ...rest] = argv;
  const context = { environment, output };
  switch (command) {
    case 'run':
      return runCommand(rest, context);
    case 'runs':
      return runsCommand(rest, context);
    case 'events':
      return eventsCommand(rest, context);
    case 'cancel':
      return cancelCommand(rest, context);
    case 'approve':
      return approveCommand(rest, context);
    case 'fork':
      return forkCommand(rest, context);
    case 'worker': {
      const flags = parse(rest, {
        agents: { type: 'string' },
        concurrency: { type: 'string' },
        'health-port': { type: 'string' },
      });
      const config = loadConfig({
        ...environment,
        ...(flags.agents ? { PLAINLOOP_AGENTS: String(flags.agents) } : {}),
        ...(flags.concurrency ? { PLAINLOOP_CONCURRENCY: String(flags.concurrency) } : {}),
        ...(flags['health-port'] ? { PLAINLOOP_WORKER_HEALTH_PORT: String(flags['health-port']) } : {}),
      });
      await runWorkerProcess({
        config,
        redisUrl: config.redis.url ?? defaultRedisUrl,
        agentsPath: config.worker.agentsPath ?? exampleAgentsPath(),
      });
      return 0;
    }
    case 'api': {
      const flags = parse(rest, {
        port: { type: 'string' },
        host: { type: 'string' },
        insecure: { type: 'boolean' },
      });
      const config = loadConfig({
        ...environment,
        ...(flags.port ? { PORT: String(flags.port) } : {}),
        ...(flags.host ? { HOST: String(flags.host) } : {}),
        ...(flags.insecure ? { PLAINLOOP_API_INSECURE: 'true' } : {}),
      });
      await runApiProcess({ config, redisUrl: config.redis.url ?? defaultRedisUrl });
      return 0;
    }
    case 'metrics': {
      const flags = parse(rest, { port: { type: 'string' }, host: { type: 'string' } });
      const config = loadConfig({
        ...environment,
        ...(flags.port ? { PLAINLOOP_METRICS_PORT: String(flags.port) } : {}),
        ...(flags.host ? { HOST: String(flags.host) } : {}),
      });
      await runMetricsProcess({ config, redisUrl: config.redis.url ?? defaultRedisUrl });
      return 0;
    }
    case 'demo': {
      parse(rest, {});
      return runDemo({ config: loadConfig(environment), environment, agentsPath: exampleAgentsPath() });
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      output.write(`${usage}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; run plainloop help`);
  }
}
