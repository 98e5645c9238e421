/**
 * The Docker deployment files, checked statically, with the real tools where there are some:
 * docker-compose.yml resolved by Debian's `docker-compose` (1.29) with .env.example, Dockerfile.worker
 * validated by dockerfile-utils, .github/workflows/ci.yml by @action-validator/core against GitHub's
 * workflow schema, and both YAML files by yamllint; then what matters in each, by name.
 *
 * What was NOT run here: no Docker engine runs on this machine, so no image was built and the stack was
 * never started. The closest this file gets is running each image's HEALTHCHECK command (plain Node)
 * against a local server, and Grafana's password guard with sh. CI on GitHub builds the three images
 * and starts Redis, the workers, the API and the metrics process from them (.github/workflows/ci.yml).
 * A missing docker-compose or yamllint is a failure, not a skip: .ci/run installs them.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { validateWorkflow } from '@action-validator/core';
import { loadConfig, parseRedisAddress } from '@plainloop/config';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const execFileAsync = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '../../..');
const TIMEOUT = 30_000;

function readRepoFile(path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8');
}

interface RunResult {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and returns its exit code and output; never throws for a non-zero exit. */
async function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const command = [file, ...args].join(' ');
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd: repoRoot,
      env,
      timeout: TIMEOUT - 5_000,
    });
    return { command, code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as Error & { code?: number | string; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error(
        `${file} is not installed or not on PATH: apt-get install ${file} (running: ${command})`,
      );
    }
    return {
      command,
      code: typeof failure.code === 'number' ? failure.code : null,
      stdout: failure.stdout ?? '',
      stderr: failure.stderr || failure.message,
    };
  }
}

function report(result: RunResult): string {
  return `\`${result.command}\` exited with ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

/** Only PATH and HOME: what the developer's shell exports must not reach compose's interpolation. */
const cleanEnvironment = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };

/** Names that hold secrets; their values must come from the environment, never from a file. */
const secretName = /KEY|SECRET|TOKEN|PASSWORD/;

// --- docker-compose.yml ----------------------------------------------------------------------------

type PortEntry = string | number | { target: number; published?: string | number; host_ip?: string };
type VolumeEntry = string | { type?: string; source?: string; target: string; read_only?: boolean };

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  deploy?: { replicas?: number };
  scale?: number;
  restart?: string;
  stop_grace_period?: string;
  ports?: PortEntry[];
  volumes?: VolumeEntry[];
  tmpfs?: string[] | string;
  healthcheck?: { test: string[] | string };
  profiles?: string[];
  hostname?: string;
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const processes = ['worker', 'api', 'metrics'] as const;
/** The six nodes of the `cluster` profile's Redis Cluster. */
const clusterNodes = Array.from({ length: 6 }, (_, index) => `redis-node-${index + 1}`);

let resolved: Promise<{ result: RunResult; compose: Compose }> | undefined;

/** `docker-compose config` with .env.example as the only source of variables (run once, shared). */
async function resolveCompose(): Promise<{ result: RunResult; compose: Compose }> {
  resolved ??= run(
    'docker-compose',
    ['-f', 'docker-compose.yml', '--env-file', '.env.example', 'config'],
    cleanEnvironment,
  ).then((result) => ({
    result,
    compose: (result.code === 0 ? parse(result.stdout) : { services: {} }) as Compose,
  }));
  const { result, compose } = await resolved;
  expect(result.code, report(result)).toBe(0);
  return { result, compose };
}

/** The file as written, merge keys applied, before interpolation. */
function rawCompose(): Compose {
  return parse(readRepoFile('docker-compose.yml'), { merge: true }) as Compose;
}

function service(compose: Compose, name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

function environmentOf(entry: ComposeService): Record<string, string> {
  const environment = entry.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((line) => [line.split('=')[0] ?? line, line.slice(line.indexOf('=') + 1)]),
    );
  }
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, String(value ?? '')]));
}

function listOf(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The value after `flag` in an argument list. */
function flagValue(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
}

/** Published ports as {hostIp, published, target}, from the short (1.29) or the long (v2) syntax. */
function portsOf(entry: ComposeService) {
  return (entry.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: port.host_ip ?? '', published: Number(port.published), target: Number(port.target) };
    }
    const parts = String(port)
      .replace(/\/tcp$/, '')
      .split(':');
    const target = Number(parts.at(-1));
    const published = Number(parts.at(-2) ?? target);
    return { hostIp: parts.length === 3 ? (parts[0] ?? '') : '', published, target };
  });
}

/** Volumes as {source, target}, from the short (1.29) or the long (v2) syntax. */
function volumesOf(entry: ComposeService) {
  return (entry.volumes ?? []).map((volume) => {
    if (typeof volume === 'object') return { source: volume.source ?? '', target: volume.target };
    const [source = '', target = ''] = volume.split(':');
    return { source, target };
  });
}

/** Seconds in a compose duration (`90s`, `1m30s`). */
function durationSeconds(duration: string | undefined): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let seconds = 0;
  for (const [, amount, unit] of String(duration).matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    seconds += Number(amount) * (units[unit ?? 's'] ?? 0);
  }
  return seconds;
}

/** `NAME=value` lines of .env.example. */
function exampleVariables(): Map<string, string> {
  const variables = new Map<string, string>();
  for (const line of readRepoFile('.env.example').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1] !== undefined) variables.set(match[1], match[2] ?? '');
  }
  return variables;
}

describe('docker-compose.yml', () => {
  it(
    'docker-compose config resolves it with .env.example, with every service of the stack',
    async () => {
      const { compose } = await resolveCompose();
      const inProfile = (profile: string | undefined) =>
        Object.entries(compose.services)
          .filter(([, entry]) => entry.profiles?.[0] === profile)
          .map(([name]) => name)
          .sort();
      expect(inProfile(undefined)).toEqual(
        ['alertmanager', 'api', 'grafana', 'metrics', 'prometheus', 'redis', 'worker'].sort(),
      );
      expect(inProfile('cluster')).toEqual([...clusterNodes, 'redis-cluster-create'].sort());
    },
    TIMEOUT,
  );

  it(
    'Redis 7 keeps everything: AOF fsynced every second, noeviction, a volume, a healthcheck, no port',
    async () => {
      const { compose } = await resolveCompose();
      const redis = service(compose, 'redis');
      expect(redis.image).toMatch(/^redis:7\./);
      const command = listOf(redis.command);
      expect(command[0]).toBe('redis-server');
      expect(flagValue(command, '--appendonly')).toBe('yes');
      expect(flagValue(command, '--appendfsync')).toBe('everysec');
      expect(flagValue(command, '--maxmemory-policy')).toBe('noeviction');
      expect(flagValue(command, '--maxmemory')).toMatch(/^\d+[kmg]b$/);
      expect(volumesOf(redis).map((volume) => volume.target)).toContain('/data');
      expect(listOf(redis.healthcheck?.test).join(' ')).toContain('redis-cli ping');
      expect(redis.ports ?? []).toEqual([]);
      expect(redis.restart).toBe('unless-stopped');
    },
    TIMEOUT,
  );

  it(
    'the cluster profile: six nodes kept as the single Redis is, in cluster mode, joined once with a replica each',
    async () => {
      const { compose } = await resolveCompose();
      for (const name of clusterNodes) {
        const node = service(compose, name);
        expect(node.image, name).toBe(service(compose, 'redis').image);
        expect(node.hostname, name).toBe(name);
        // The server's flags, as the node's shell runs them.
        const flags =
          listOf(node.command)
            .at(-1)
            ?.replace(/^exec /, '')
            .split(/\s+/) ?? [];
        expect(flags[0], name).toBe('redis-server');
        expect(flagValue(flags, '--cluster-enabled'), name).toBe('yes');
        expect(flagValue(flags, '--appendonly'), name).toBe('yes');
        expect(flagValue(flags, '--appendfsync'), name).toBe('everysec');
        expect(flagValue(flags, '--maxmemory-policy'), name).toBe('noeviction');
        // `docker-compose config` writes a literal $ back escaped, as $$.
        expect(flagValue(flags, '--cluster-announce-hostname'), name).toBe('"$$(hostname)"');
        expect(flagValue(flags, '--cluster-preferred-endpoint-type'), name).toBe('hostname');
        expect(volumesOf(node), name).toEqual([{ source: `${name}-data`, target: '/data' }]);
        expect(compose.volumes, name).toHaveProperty(`${name}-data`);
        expect(listOf(node.healthcheck?.test).join(' '), name).toContain('redis-cli ping');
      }
      const create = service(compose, 'redis-cluster-create');
      expect(Object.keys(create.depends_on ?? {}).sort()).toEqual([...clusterNodes].sort());
      const script = listOf(create.entrypoint).at(-1) ?? '';
      expect(script).toContain('--cluster create $$nodes --cluster-replicas 1 --cluster-yes');
      for (const name of clusterNodes) expect(script).toContain(name);
      // Created once: a restart of the stack finds the cluster and leaves it.
      expect(script).toMatch(/cluster info \| grep -q cluster_state:ok; then .*exit 0/);
      expect(create.restart).toBe('no');
    },
    TIMEOUT,
  );

  it("names the profile's cluster in .env.example, as REDIS_URL takes it: all six nodes", () => {
    const line = readRepoFile('.env.example')
      .split('\n')
      .find((text) => text.startsWith('# REDIS_URL=redis+cluster://'));
    const address = parseRedisAddress(line?.slice('# REDIS_URL='.length) ?? '');
    expect(address.mode).toBe('cluster');
    if (address.mode !== 'cluster') return;
    expect(address.nodes).toEqual(clusterNodes.map((host) => ({ host, port: 6379 })));
  });

  it(
    'worker, api and metrics are the targets of Dockerfile.worker, wait for a healthy Redis and restart unless stopped',
    async () => {
      const { compose } = await resolveCompose();
      for (const name of processes) {
        const entry = service(compose, name);
        expect(entry.build?.dockerfile, name).toBe('Dockerfile.worker');
        expect(entry.build?.target, name).toBe(name);
        expect(entry.image, name).toBe(`plainloop-${name}:local`);
        expect(entry.restart, name).toBe('unless-stopped');
        const dependsOn = entry.depends_on;
        expect(Array.isArray(dependsOn), `${name}: depends_on needs the long form`).toBe(false);
        expect((dependsOn as Record<string, { condition?: string }>).redis?.condition, name).toBe(
          'service_healthy',
        );
        // The single Redis unless .env names the profile's cluster.
        expect(environmentOf(entry).REDIS_URL, name).toBe('redis://redis:6379');
      }
    },
    TIMEOUT,
  );

  it(
    'two workers or more, each given time to hand its runs back before SIGKILL',
    async () => {
      const { compose } = await resolveCompose();
      const worker = service(compose, 'worker');
      expect(worker.deploy?.replicas ?? worker.scale ?? 1).toBeGreaterThanOrEqual(2);
      const environment = environmentOf(worker);
      const config = loadConfig(environment);
      // Past its shutdown timeout a worker aborts its calls and waits 10 s more at most, then closes its
      // connections in at most 10 s even with Redis gone (apps/worker/src/start-worker.ts); Docker's
      // grace period must cover all three.
      expect(durationSeconds(worker.stop_grace_period)).toBeGreaterThan(
        config.worker.shutdownTimeoutMs / 1000 + 10 + 10,
      );
      // Longer than a model call may take, so a call in flight finishes and is not paid for twice.
      expect(config.worker.shutdownTimeoutMs).toBeGreaterThan(config.runs.modelTimeoutMs);
    },
    TIMEOUT,
  );

  it(
    "each process's environment is valid for loadConfig and names only variables it reads",
    async () => {
      const { compose } = await resolveCompose();
      const configSource = readRepoFile('packages/config/src/load-config.ts');
      for (const name of processes) {
        const environment = environmentOf(service(compose, name));
        expect(() => loadConfig(environment), name).not.toThrow();
        for (const variable of Object.keys(environment)) {
          expect(configSource, `${name}: ${variable} is not read by loadConfig`).toContain(`${variable}:`);
        }
      }
      const api = loadConfig(environmentOf(service(compose, 'api')));
      const metrics = loadConfig(environmentOf(service(compose, 'metrics')));
      expect(portsOf(service(compose, 'api')).map((port) => port.target)).toEqual([api.api.port]);
      expect(portsOf(service(compose, 'metrics')).map((port) => port.target)).toEqual([metrics.metrics.port]);
      // Alerts go Prometheus -> Alertmanager -> Telegram: the metrics process sending its own would
      // deliver each twice.
      expect(
        Object.keys(environmentOf(service(compose, 'metrics'))).filter((variable) =>
          variable.startsWith('TELEGRAM_'),
        ),
      ).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'publishes the API (3000), metrics (9464), Prometheus, Alertmanager and Grafana on 127.0.0.1 only',
    async () => {
      const { compose } = await resolveCompose();
      const published = Object.fromEntries(
        Object.entries(compose.services).map(([name, entry]) => [name, portsOf(entry)]),
      );
      expect(published).toEqual({
        ...Object.fromEntries([...clusterNodes, 'redis-cluster-create'].map((name) => [name, []])),
        redis: [],
        worker: [],
        api: [{ hostIp: '127.0.0.1', published: 3000, target: 3000 }],
        metrics: [{ hostIp: '127.0.0.1', published: 9464, target: 9464 }],
        prometheus: [{ hostIp: '127.0.0.1', published: 9090, target: 9090 }],
        alertmanager: [{ hostIp: '127.0.0.1', published: 9093, target: 9093 }],
        grafana: [{ hostIp: '127.0.0.1', published: 3001, target: 3000 }],
      });
    },
    TIMEOUT,
  );

  it(
    "Prometheus gets ops/prometheus's config and rules, and its targets are these services and ports",
    async () => {
      const { compose } = await resolveCompose();
      const prometheus = service(compose, 'prometheus');
      const config = parse(readRepoFile('ops/prometheus/prometheus.yml')) as {
        rule_files: string[];
        alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
        scrape_configs: { static_configs: { targets: string[] }[] }[];
      };
      const configFile = flagValue(
        listOf(prometheus.command).flatMap((argument) => argument.split('=')),
        '--config.file',
      );
      expect(configFile).toBe('/etc/prometheus/prometheus.yml');
      const mounts = Object.fromEntries(
        volumesOf(prometheus).map((volume) => [volume.target, volume.source]),
      );
      expect(mounts[configFile ?? '']).toBe(join(repoRoot, 'ops/prometheus/prometheus.yml'));
      for (const rules of config.rule_files) {
        expect(mounts[`/etc/prometheus/${rules}`], rules).toBe(join(repoRoot, 'ops/prometheus', rules));
      }

      const portOf: Record<string, number> = {
        metrics: loadConfig(environmentOf(service(compose, 'metrics'))).metrics.port,
        alertmanager: 9093,
      };
      const targets = [
        ...config.scrape_configs.flatMap((scrape) => scrape.static_configs.flatMap((group) => group.targets)),
        ...config.alerting.alertmanagers.flatMap((manager) =>
          manager.static_configs.flatMap((group) => group.targets),
        ),
      ];
      expect(targets.sort()).toEqual(['alertmanager:9093', 'metrics:9464']);
      for (const target of targets) {
        const [host = '', port] = target.split(':');
        expect(compose.services[host], `${target}: no such service`).toBeDefined();
        expect(Number(port), target).toBe(portOf[host]);
      }
    },
    TIMEOUT,
  );

  it(
    'Alertmanager starts from the config render-config.sh writes from ops/alertmanager.yml and the Telegram variables',
    async () => {
      const { compose } = await resolveCompose();
      const alertmanager = service(compose, 'alertmanager');
      const mounts = Object.fromEntries(
        volumesOf(alertmanager).map((volume) => [volume.source, volume.target]),
      );
      const script = mounts[join(repoRoot, 'ops/alertmanager/render-config.sh')];
      const template = mounts[join(repoRoot, 'ops/alertmanager.yml')];
      expect(script).toBeDefined();
      expect(template).toBeDefined();
      const entrypoint = listOf(alertmanager.entrypoint);
      expect(entrypoint.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      const shell = entrypoint[2] ?? '';
      const render = new RegExp(
        `sh ${script} (\\S+) ${template} && exec /bin/alertmanager --config.file=(\\S+) `,
      );
      const [, renderedTo, configFile] = render.exec(shell) ?? [];
      expect(renderedTo, shell).toBeDefined();
      expect(configFile).toBe(renderedTo);
      // Rendered into a tmpfs: the bot token is never written to a disk.
      expect(listOf(alertmanager.tmpfs).some((path) => renderedTo?.startsWith(`${path}/`))).toBe(true);
      expect(Object.keys(environmentOf(alertmanager)).sort()).toEqual([
        'TELEGRAM_BOT_TOKEN',
        'TELEGRAM_CHAT_ID',
      ]);
    },
    TIMEOUT,
  );

  it(
    "Grafana gets ops/grafana's provisioning and dashboards, and the Prometheus it points at is the service",
    async () => {
      const { compose } = await resolveCompose();
      const grafana = service(compose, 'grafana');
      const mounts = Object.fromEntries(volumesOf(grafana).map((volume) => [volume.target, volume.source]));
      const provider = parse(readRepoFile('ops/grafana/provisioning/dashboards/plainloop.yml')) as {
        providers: { options: { path: string } }[];
      };
      expect(mounts['/etc/grafana/provisioning']).toBe(join(repoRoot, 'ops/grafana/provisioning'));
      expect(mounts[provider.providers[0]?.options.path ?? '']).toBe(
        join(repoRoot, 'ops/grafana/dashboards'),
      );
      const datasource = parse(readRepoFile('ops/grafana/provisioning/datasources/prometheus.yml')) as {
        datasources: { url: string }[];
      };
      const url = new URL(datasource.datasources[0]?.url ?? '');
      expect(compose.services[url.hostname]).toBeDefined();
      expect(portsOf(service(compose, url.hostname)).map((port) => port.target)).toContain(Number(url.port));
    },
    TIMEOUT,
  );

  it(
    'Grafana refuses to start without an admin password instead of falling back to admin/admin',
    async () => {
      const { compose } = await resolveCompose();
      const entrypoint = listOf(service(compose, 'grafana').entrypoint);
      expect(entrypoint.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      // `docker-compose config` writes a literal $ as $$, as the file has it.
      const script = (entrypoint[2] ?? '').replaceAll('$$', '$');
      const without = await run('sh', ['-c', script], {
        ...cleanEnvironment,
        GF_SECURITY_ADMIN_PASSWORD: '',
      });
      expect(without.code, report(without)).toBe(1);
      expect(without.stderr.trim()).toBe('grafana: set GRAFANA_ADMIN_PASSWORD in .env (see .env.example)');
      // With one, it goes on to Grafana's own /run.sh, which is not on this machine.
      const withPassword = await run('sh', ['-c', script], {
        ...cleanEnvironment,
        GF_SECURITY_ADMIN_PASSWORD: 'a-password',
      });
      expect(withPassword.code, report(withPassword)).toBe(127);
      expect(withPassword.stderr).toContain('/run.sh');
    },
    TIMEOUT,
  );

  it('holds no secret: every key, token and password is interpolated from the environment', () => {
    const text = readRepoFile('docker-compose.yml');
    for (const [name, entry] of Object.entries(rawCompose().services)) {
      for (const [variable, value] of Object.entries(environmentOf(entry))) {
        if (!secretName.test(variable)) continue;
        expect(value, `${name}: ${variable}`).toMatch(/^\$\{[A-Z][A-Z0-9_]*(:-)?\}$/);
      }
    }
    // Shapes of real keys: OpenAI/Anthropic (sk-), Gemini (AIza), webhook secrets, Telegram bot tokens.
    expect(text).not.toMatch(
      /sk-[A-Za-z0-9-]{8,}|AIza[0-9A-Za-z_-]{20,}|whsec_[A-Za-z0-9+/=]{8,}|\d{6,}:[\w-]{20,}/,
    );
  });

  it('every variable it interpolates is in .env.example, which names no other and holds no secret', () => {
    const text = readRepoFile('docker-compose.yml');
    // $${...} is a literal $ for the container's shell, not an interpolation.
    const interpolated = new Set(
      [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? ''),
    );
    const example = exampleVariables();
    expect(
      [...interpolated].filter((name) => !example.has(name)),
      'interpolated, not in .env.example',
    ).toEqual([]);
    expect(
      [...example.keys()].filter((name) => !interpolated.has(name)),
      'in .env.example, not used',
    ).toEqual([]);
    for (const [name, value] of example) {
      if (secretName.test(name)) expect(value, `.env.example must leave ${name} empty`).toBe('');
    }
  });
});

// --- Dockerfile.worker ------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The instructions of a Dockerfile, continuation lines joined, comments and blank lines left out. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const start = index;
    let line = lines[index] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && index + 1 < lines.length) {
      index++;
      const next = lines[index] ?? '';
      if (/^\s*#/.test(next)) continue;
      line = `${line.slice(0, -1)} ${next.trim()}`;
    }
    const [, keyword = '', args = ''] = /^\s*(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim(), line: start + 1 };
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name = ''] = instruction.args.split(/\s+/);
      if (as?.toUpperCase() !== 'AS' || name === '')
        throw new Error(`line ${start + 1}: a stage without a name`);
      stages.push({ name, from, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`line ${start + 1}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

const dockerfileText = readRepoFile('Dockerfile.worker');
const stages = parseDockerfile(dockerfileText);

/** A stage and the stages it is built FROM, nearest last. */
function chainOf(name: string): Stage[] {
  const stage = stages.find((candidate) => candidate.name === name);
  if (!stage) throw new Error(`Dockerfile.worker has no stage "${name}"`);
  return stages.some((candidate) => candidate.name === stage.from)
    ? [...chainOf(stage.from), stage]
    : [stage];
}

/** The instruction with this keyword that is in force in a stage: the last in its chain. */
function effective(name: string, keyword: string): Instruction | undefined {
  return chainOf(name)
    .flatMap((stage) => stage.instructions)
    .filter((instruction) => instruction.keyword === keyword)
    .at(-1);
}

/** The arguments of an exec-form (JSON array) instruction; fails for the shell form. */
function execForm(instruction: Instruction | undefined, what: string): string[] {
  expect(instruction, `${what} is missing`).toBeDefined();
  const args = instruction?.args ?? '';
  expect(args.startsWith('['), `${what} must be exec form (a JSON array), not a shell command: ${args}`).toBe(
    true,
  );
  const parsed = JSON.parse(args) as unknown;
  expect(Array.isArray(parsed) && parsed.every((item) => typeof item === 'string'), what).toBe(true);
  return parsed as string[];
}

/** The HEALTHCHECK of a target: its flags and its exec-form command. */
function healthcheckOf(target: string) {
  const healthcheck = stages
    .find((stage) => stage.name === target)
    ?.instructions.find((instruction) => instruction.keyword === 'HEALTHCHECK');
  expect(healthcheck, `target ${target} has no HEALTHCHECK of its own`).toBeDefined();
  const args = healthcheck?.args ?? '';
  const at = args.indexOf('CMD ');
  return {
    flags: args.slice(0, at).trim(),
    command: execForm(
      { keyword: 'CMD', args: args.slice(at + 4).trim(), line: healthcheck?.line ?? 0 },
      target,
    ),
  };
}

/** Each target, and the port its process serves /healthz on: the variable and the default. */
const targets = {
  api: { variable: 'PORT', port: 3000 },
  metrics: { variable: 'PLAINLOOP_METRICS_PORT', port: 9464 },
  worker: { variable: 'PLAINLOOP_WORKER_HEALTH_PORT', port: 9465 },
} as const;

/** A server that answers /healthz with `status`; closed by the caller. */
async function healthServer(status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    response.writeHead(request.url === '/healthz' ? status : 404, { 'content-type': 'application/json' });
    response.end('{}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('Dockerfile.worker', () => {
  it('dockerfile-utils finds no problem in it', () => {
    const problems = validate(dockerfileText).map(
      (problem) => `line ${problem.range.start.line + 1}: ${problem.message}`,
    );
    expect(problems).toEqual([]);
  });

  it('builds from node:22-bookworm-slim, with a target per process and the worker last (the default)', () => {
    const names = stages.map((stage) => stage.name);
    const external = stages.filter((stage) => !names.includes(stage.from)).map((stage) => stage.from);
    expect(new Set(external)).toEqual(new Set(['node:22-bookworm-slim']));
    for (const target of Object.keys(targets)) expect(names, target).toContain(target);
    expect(names.at(-1)).toBe('worker');
  });

  it('each target runs as a user that is not root', () => {
    for (const target of Object.keys(targets)) {
      const user = effective(target, 'USER')?.args;
      expect(user, `${target} has no USER: it would run as root`).toBeDefined();
      const [name = ''] = (user ?? '').split(':');
      expect(['root', '0', ''], `${target} runs as ${user}`).not.toContain(name);
    }
  });

  it('each target starts `node apps/cli/bin/plainloop.js <process>` under tini, in exec form, stopped by SIGTERM', () => {
    for (const target of Object.keys(targets)) {
      const entrypoint = execForm(effective(target, 'ENTRYPOINT'), `${target} ENTRYPOINT`);
      expect(entrypoint).toEqual(['/usr/bin/tini', '--', 'node', 'apps/cli/bin/plainloop.js']);
      expect(execForm(effective(target, 'CMD'), `${target} CMD`)).toEqual([target]);
      expect(effective(target, 'STOPSIGNAL')?.args, target).toBe('SIGTERM');
      const installs = chainOf(target)
        .flatMap((stage) => stage.instructions)
        .filter((instruction) => instruction.keyword === 'RUN')
        .map((instruction) => instruction.args);
      expect(
        installs.some((command) => /apt-get install .*\btini\b/.test(command)),
        target,
      ).toBe(true);
    }
    expect(readFileSync(join(repoRoot, 'apps/cli/bin/plainloop.js'), 'utf8')).toContain(
      "import('../src/main.ts')",
    );
  });

  it('each target has a HEALTHCHECK on its own /healthz port, and exposes that port', () => {
    for (const [target, { variable, port }] of Object.entries(targets)) {
      const { flags, command } = healthcheckOf(target);
      expect(flags, target).toMatch(/--interval=\S+/);
      expect(flags, target).toMatch(/--start-period=\S+/);
      expect(command.slice(0, 2), target).toEqual(['node', '-e']);
      const script = command[2] ?? '';
      // The one port it asks: its own variable, or the process's default.
      const asked = [...script.matchAll(/process\.env\.(\w+) \|\| (\d+)\)/g)].map((match) => match.slice(1));
      expect(asked, target).toEqual([[variable, String(port)]]);
      expect(script, target).toContain("'/healthz'");
      const exposed = stages
        .find((stage) => stage.name === target)
        ?.instructions.filter((instruction) => instruction.keyword === 'EXPOSE')
        .map((instruction) => instruction.args);
      expect(exposed, target).toEqual([String(port)]);
    }
    // The defaults agree with the processes' own.
    const defaults = loadConfig({});
    expect(defaults.api.port).toBe(targets.api.port);
    expect(defaults.metrics.port).toBe(targets.metrics.port);
  });

  it(
    'each HEALTHCHECK command exits 0 on a 200 from /healthz, and 1 on a 503 or when nothing answers',
    async () => {
      const healthy = await healthServer(200);
      const failing = await healthServer(503);
      const closed = await healthServer(200);
      await new Promise((done) => closed.server.close(done));
      try {
        for (const [target, { variable }] of Object.entries(targets)) {
          const [file = '', ...args] = healthcheckOf(target).command;
          const against = (port: number) =>
            run(file, args, { ...cleanEnvironment, [variable]: String(port) });
          const ok = await against(healthy.port);
          expect(ok.code, `${target}: ${report(ok)}`).toBe(0);
          const unhealthy = await against(failing.port);
          expect(unhealthy.code, `${target}: ${report(unhealthy)}`).toBe(1);
          const unreachable = await against(closed.port);
          expect(unreachable.code, `${target}: ${report(unreachable)}`).toBe(1);
        }
      } finally {
        healthy.server.close();
        failing.server.close();
      }
    },
    TIMEOUT,
  );

  it('installs production dependencies only, with the npm the repository pins, in a stage of their own', () => {
    const runs = stages.flatMap((stage) =>
      stage.instructions
        .filter((instruction) => instruction.keyword === 'RUN')
        .map((instruction) => ({ stage: stage.name, command: instruction.args })),
    );
    const installs = runs.filter(({ command }) => /\bnpm (ci|install|i)\b/.test(command));
    const ci = installs.filter(({ command }) => /\bnpm ci\b/.test(command));
    expect(ci).toHaveLength(1);
    expect(ci[0]?.command).toContain('--omit=dev');
    expect(ci[0]?.command).toContain('--workspace=@plainloop/cli');
    const packageManager = (JSON.parse(readRepoFile('package.json')) as { packageManager: string })
      .packageManager;
    expect(
      installs.some(
        ({ stage, command }) =>
          stage === ci[0]?.stage && command.includes(`--global`) && command.includes(packageManager),
      ),
      `npm ci runs with ${packageManager}`,
    ).toBe(true);
    // The process images take node_modules from that stage; none of them installs anything itself.
    for (const target of Object.keys(targets)) {
      const chain = chainOf(target);
      expect(
        chain.some((stage) => stage.name === ci[0]?.stage),
        target,
      ).toBe(false);
      const copies = chain
        .flatMap((stage) => stage.instructions)
        .filter((instruction) => instruction.keyword === 'COPY');
      expect(
        copies.some((copy) => copy.args.startsWith(`--from=${ci[0]?.stage} `)),
        target,
      ).toBe(true);
    }
  });

  it('.dockerignore keeps secrets, host dependencies and the test-only workspace out of the images', () => {
    const ignored = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    for (const pattern of [
      '**/.env',
      '**/.env.*',
      '**/*.env',
      '**/node_modules',
      '.git',
      'packages/testing',
    ]) {
      expect(ignored, pattern).toContain(pattern);
    }
    // Left out of the image, packages/testing must stay a dev dependency of every workspace.
    for (const folder of ['apps', 'packages', 'examples']) {
      for (const name of readdirSync(join(repoRoot, folder))) {
        let manifest: { dependencies?: Record<string, string> };
        try {
          manifest = JSON.parse(readRepoFile(`${folder}/${name}/package.json`)) as typeof manifest;
        } catch {
          continue;
        }
        expect(Object.keys(manifest.dependencies ?? {}), `${folder}/${name}`).not.toContain(
          '@plainloop/testing',
        );
      }
    }
  });
});

// --- .github/workflows/ci.yml -----------------------------------------------------------------------

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
}

interface Job {
  strategy?: { matrix?: Record<string, unknown> };
  services?: Record<string, { image: string; ports?: string[] }>;
  env?: Record<string, string>;
  steps: Step[];
}

const workflowText = readRepoFile('.github/workflows/ci.yml');
const workflow = parse(workflowText) as { jobs: Record<string, Job> };

describe('.github/workflows/ci.yml', () => {
  it('is a valid GitHub Actions workflow (@action-validator/core, against the workflow schema)', () => {
    expect(validateWorkflow(workflowText).errors).toEqual([]);
  });

  it('tests on Node 20 and 22 against a Redis service, with every check of npm test', () => {
    const test = workflow.jobs.test;
    expect(test).toBeDefined();
    const versions = ((test?.strategy?.matrix?.['node-version'] ?? []) as unknown[]).map(String);
    expect(versions).toEqual(expect.arrayContaining(['20', '22']));
    expect(test?.services?.redis?.image).toMatch(/^redis:7\./);
    expect(test?.services?.redis?.ports).toContain('6379:6379');
    expect(test?.env?.REDIS_URL).toBe('redis://localhost:6379');

    const steps = test?.steps ?? [];
    expect(steps[0]?.uses).toMatch(/^actions\/checkout@v\d+$/);
    const setupNode = steps.find((step) => step.uses?.startsWith('actions/setup-node@'));
    expect(setupNode?.with).toMatchObject({ 'node-version': `\${{ matrix.node-version }}`, cache: 'npm' });
    const commands = steps.map((step) => step.run ?? '').join('\n');
    for (const tool of [
      'redis-server',
      'prometheus',
      'prometheus-alertmanager',
      'docker-compose',
      'yamllint',
    ]) {
      expect(commands, `apt-get install ${tool}`).toMatch(
        new RegExp(`apt-get install[^\\n]*\\n?[^\\n]*\\b${tool}\\b`),
      );
    }
    for (const command of [
      'npm ci',
      'npx biome check .',
      'npm run typecheck',
      'npm run check:architecture',
      'npx turbo run test',
      'docker compose --env-file .env.example config',
    ]) {
      expect(commands).toContain(command);
    }
  });

  it('builds each target of Dockerfile.worker with docker/build-push-action, pushing nothing, as compose names them', () => {
    const images = workflow.jobs.images;
    const builds = (images?.steps ?? []).filter((step) => step.uses?.startsWith('docker/build-push-action@'));
    expect(builds.map((step) => step.with?.target).sort()).toEqual(Object.keys(targets).sort());
    const compose = rawCompose();
    for (const build of builds) {
      expect(build.with, String(build.with?.target)).toMatchObject({
        file: 'Dockerfile.worker',
        push: false,
      });
      expect(build.with?.tags).toBe(compose.services[String(build.with?.target)]?.image);
    }
  });
});

describe('yamllint', () => {
  it(
    'passes on docker-compose.yml and the workflow (warnings fail too)',
    async () => {
      const config = JSON.stringify({
        extends: 'default',
        rules: {
          'line-length': { max: 120 },
          'document-start': 'disable',
          // `on:` is a workflow's trigger, not a boolean.
          truthy: { 'check-keys': false },
        },
      });
      const result = await run(
        'yamllint',
        ['--strict', '-d', config, 'docker-compose.yml', '.github/workflows/ci.yml'],
        cleanEnvironment,
      );
      expect(result.code, report(result)).toBe(0);
    },
    TIMEOUT,
  );
});
