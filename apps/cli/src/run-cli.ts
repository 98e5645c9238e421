import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { runApiProcess } from '@plainloop/api';
import { loadConfig } from '@plainloop/config';
import { runMetricsProcess } from '@plainloop/metrics';
import { runWorkerProcess } from '@plainloop/worker';
import { runDemo } from './demo/run-demo.ts';
import { UsageError } from './usage-error.ts';

const usage = `plainloop: production AI agents as a worker fleet on BullMQ and Redis

Usage:
  plainloop demo                                     start Redis (if needed), the API, two workers and metrics; run the example agents
  plainloop worker [--agents <path>] [--concurrency <n>]   run agent steps from the plainloop-runs queue
  plainloop api [--port <n>] [--host <address>] [--insecure]   serve the producer API (keys: PLAINLOOP_API_KEYS)
  plainloop metrics [--port <n>] [--host <address>]  serve Prometheus /metrics from the run events; send alerts
  plainloop help                                     show this

Every flag has an environment variable: PLAINLOOP_AGENTS, PLAINLOOP_CONCURRENCY, PORT (api),
PLAINLOOP_METRICS_PORT (metrics), HOST.
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

/** Runs one `plainloop` command; resolves with the exit code. Errors it cannot handle are thrown. */
export async function runCli(argv: string[], environment: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'worker': {
      const flags = parse(rest, { agents: { type: 'string' }, concurrency: { type: 'string' } });
      const config = loadConfig({
        ...environment,
        ...(flags.agents ? { PLAINLOOP_AGENTS: String(flags.agents) } : {}),
        ...(flags.concurrency ? { PLAINLOOP_CONCURRENCY: String(flags.concurrency) } : {}),
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
      process.stdout.write(`${usage}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"; run plainloop help`);
  }
}
