/**
 * Checks the monitoring configuration under ops/ with the real tools: promtool for the Prometheus
 * config, alert rules and their unit tests, amtool for the rendered Alertmanager config, and promtool
 * again to parse every Grafana dashboard query. A missing tool is a failure, not a skip: install
 * Debian's `prometheus` and `prometheus-alertmanager` packages.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const execFileAsync = promisify(execFile);

const repoRoot = resolve(import.meta.dirname, '../../..');
const prometheusDir = join(repoRoot, 'ops/prometheus');
const alertmanagerTemplate = join(repoRoot, 'ops/alertmanager.yml');
const renderScript = join(repoRoot, 'ops/alertmanager/render-config.sh');
const grafanaDir = join(repoRoot, 'ops/grafana');
const dashboardFile = join(grafanaDir, 'dashboards/plainloop.json');

const TIMEOUT = 30_000;
const INSTALL_HINT =
  "install Debian's `prometheus` and `prometheus-alertmanager` packages " +
  '(apt-get install prometheus prometheus-alertmanager), which provide promtool and amtool';

interface RunResult {
  command: string;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and returns its exit code and output; never throws for a non-zero exit. */
async function run(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const command = [file, ...args].join(' ');
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      timeout: TIMEOUT - 5_000,
    });
    return { command, code: 0, signal: null, stdout, stderr };
  } catch (error) {
    const failure = error as Error & {
      code?: number | string;
      signal?: string | null;
      stdout?: string;
      stderr?: string;
    };
    if (failure.code === 'ENOENT') {
      const why =
        file === 'promtool' || file === 'amtool'
          ? `${file} is not installed or not on PATH: ${INSTALL_HINT}`
          : `${file} not found`;
      throw new Error(`${why} (running: ${command})`);
    }
    return {
      command,
      code: typeof failure.code === 'number' ? failure.code : null,
      signal: failure.signal ?? null,
      stdout: failure.stdout ?? '',
      stderr: failure.stderr || failure.message,
    };
  }
}

/** The failure message for an assertion on a command: what ran, how it ended and all it printed. */
function report(result: RunResult): string {
  const ended = result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`;
  return `\`${result.command}\` ${ended}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

/** The environment without any Telegram variables the developer may have set. */
function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'plainloop-ops-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('ops/prometheus', () => {
  it(
    'prometheus.yml passes promtool check config',
    async () => {
      const result = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: prometheusDir });
      expect(result.code, report(result)).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'alerts.yml passes promtool check rules and defines the plainloop alerts',
    async () => {
      const result = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: prometheusDir });
      expect(result.code, report(result)).toBe(0);

      const rules = parse(await readFile(join(prometheusDir, 'alerts.yml'), 'utf8')) as {
        groups: { name: string; rules: { alert: string; labels: { severity: string } }[] }[];
      };
      expect(rules.groups.map((group) => group.name)).toEqual(['plainloop']);
      const alerts = Object.fromEntries(
        (rules.groups[0]?.rules ?? []).map((rule) => [rule.alert, rule.labels.severity]),
      );
      expect(alerts).toEqual({
        PlainloopRunErrorRateHigh: 'page',
        PlainloopLlmErrorRateHigh: 'page',
        PlainloopCostBurnHigh: 'warning',
        PlainloopBudgetStops: 'warning',
        PlainloopReplicaUnavailable: 'page',
        PlainloopBreakerOpen: 'warning',
        PlainloopMetricsLagging: 'warning',
        PlainloopTenantBudgetBurn: 'warning',
      });
    },
    TIMEOUT,
  );

  it(
    'the alert rules pass their promtool unit tests (alerts.test.yml)',
    async () => {
      const result = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: prometheusDir });
      expect(result.code, report(result)).toBe(0);
    },
    TIMEOUT,
  );
});

describe('ops/alertmanager', () => {
  it(
    'render-config.sh fills in the Telegram placeholders and amtool accepts the result',
    async () => {
      const out = join(tmp, 'alertmanager.yml');
      const rendered = await run('sh', [renderScript, out, alertmanagerTemplate], {
        env: {
          ...envWithout('TELEGRAM_BOT_TOKEN', 'TELEGRAM_CHAT_ID'),
          TELEGRAM_BOT_TOKEN: '123:abc',
          TELEGRAM_CHAT_ID: '-1001',
        },
      });
      expect(rendered.code, report(rendered)).toBe(0);
      expect(rendered.stderr, report(rendered)).toBe('');

      const text = await readFile(out, 'utf8');
      expect(text).not.toContain('${');
      const config = parse(text) as {
        route: { receiver: string };
        receivers: { name: string; telegram_configs: { bot_token: string; chat_id: unknown }[] }[];
      };
      expect(config.route.receiver).toBe('telegram');
      expect(config.receivers[0]?.telegram_configs[0]).toMatchObject({
        bot_token: '123:abc',
        chat_id: -1001,
      });

      const checked = await run('amtool', ['check-config', out]);
      expect(checked.code, report(checked)).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'render-config.sh finds the template next to its directory by default',
    async () => {
      const out = join(tmp, 'default-template.yml');
      const rendered = await run('sh', [renderScript, out], {
        env: {
          ...envWithout('TELEGRAM_BOT_TOKEN', 'TELEGRAM_CHAT_ID'),
          TELEGRAM_BOT_TOKEN: '123:abc',
          TELEGRAM_CHAT_ID: '42',
        },
      });
      expect(rendered.code, report(rendered)).toBe(0);
      const checked = await run('amtool', ['check-config', out]);
      expect(checked.code, report(checked)).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'render-config.sh without TELEGRAM_BOT_TOKEN fails with one line and writes nothing',
    async () => {
      const out = join(tmp, 'no-token.yml');
      const rendered = await run('sh', [renderScript, out, alertmanagerTemplate], {
        env: { ...envWithout('TELEGRAM_BOT_TOKEN', 'TELEGRAM_CHAT_ID'), TELEGRAM_CHAT_ID: '-1001' },
      });
      expect(rendered.code, report(rendered)).not.toBe(0);
      expect(rendered.code, report(rendered)).not.toBeNull();
      expect(rendered.stderr.trimEnd().split('\n'), report(rendered)).toHaveLength(1);
      expect(rendered.stderr, report(rendered)).toContain('TELEGRAM_BOT_TOKEN');
      expect(existsSync(out)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'render-config.sh refuses a chat id that is not an integer, with one line',
    async () => {
      const out = join(tmp, 'bad-chat-id.yml');
      const rendered = await run('sh', [renderScript, out, alertmanagerTemplate], {
        env: {
          ...envWithout('TELEGRAM_BOT_TOKEN', 'TELEGRAM_CHAT_ID'),
          TELEGRAM_BOT_TOKEN: '123:abc',
          TELEGRAM_CHAT_ID: '@my_channel',
        },
      });
      expect(rendered.code, report(rendered)).not.toBe(0);
      expect(rendered.code, report(rendered)).not.toBeNull();
      expect(rendered.stderr.trimEnd().split('\n'), report(rendered)).toHaveLength(1);
      expect(rendered.stderr, report(rendered)).toContain('TELEGRAM_CHAT_ID');
      expect(existsSync(out)).toBe(false);
    },
    TIMEOUT,
  );
});

interface Datasource {
  type?: string;
  uid?: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: Datasource;
  targets?: { refId: string; expr?: string; datasource?: Datasource }[];
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating?: { list: unknown[] };
  panels: Panel[];
}

async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(dashboardFile, 'utf8')) as Dashboard;
}

describe('ops/grafana', () => {
  it(
    'the Prometheus datasource has the fixed uid the dashboard uses',
    async () => {
      const provisioning = parse(
        await readFile(join(grafanaDir, 'provisioning/datasources/prometheus.yml'), 'utf8'),
      ) as { datasources: { type: string; uid: string; url: string; isDefault: boolean }[] };
      expect(provisioning.datasources).toHaveLength(1);
      expect(provisioning.datasources[0]).toMatchObject({
        type: 'prometheus',
        uid: 'prometheus',
        url: 'http://prometheus:9090',
        isDefault: true,
      });

      const dashboards = parse(
        await readFile(join(grafanaDir, 'provisioning/dashboards/plainloop.yml'), 'utf8'),
      ) as { providers: { type: string; options: { path: string } }[] };
      expect(dashboards.providers[0]).toMatchObject({
        type: 'file',
        options: { path: '/var/lib/grafana/dashboards' },
      });
    },
    TIMEOUT,
  );

  it(
    'the dashboard parses and every panel queries the prometheus datasource',
    async () => {
      const dashboard = await loadDashboard();
      expect(dashboard.uid).toBe('plainloop');
      expect(dashboard.title).toBe('plainloop');
      expect(dashboard.templating?.list ?? []).toEqual([]);
      expect(dashboard.panels.length).toBeGreaterThan(0);
      expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);

      for (const panel of dashboard.panels) {
        const where = `panel ${panel.id} "${panel.title}"`;
        expect(['timeseries', 'stat'], where).toContain(panel.type);
        expect(panel.datasource, where).toEqual({ type: 'prometheus', uid: 'prometheus' });
        const targets = panel.targets ?? [];
        expect(targets.length, `${where} has no targets`).toBeGreaterThan(0);
        for (const target of targets) {
          expect(target.expr?.trim(), `${where} target ${target.refId} has no expr`).toBeTruthy();
          if (target.datasource) expect(target.datasource, where).toEqual(panel.datasource);
          // Only $__rate_interval may be substituted: no dashboard variables.
          expect(target.expr?.replaceAll('$__rate_interval', ''), `${where}: ${target.expr}`).not.toContain(
            '$',
          );
        }
      }
    },
    TIMEOUT,
  );

  it(
    'every dashboard query is valid PromQL (promtool check rules on them as recording rules)',
    async () => {
      const dashboard = await loadDashboard();
      const rules = dashboard.panels.flatMap((panel) =>
        (panel.targets ?? []).map((target) => ({
          record: `dashboard:panel_${panel.id}_${target.refId}`,
          expr: (target.expr ?? '').replaceAll('$__rate_interval', '1m'),
        })),
      );
      const file = join(tmp, 'dashboard-queries.yml');
      await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const result = await run('promtool', ['check', 'rules', file]);
      expect(result.code, report(result)).toBe(0);
    },
    TIMEOUT,
  );
});
