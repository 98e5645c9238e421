import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@plainloop/testing';
import { freePort } from '../demo/fleet-processes.ts';

export type PrometheusServer = {
  url: string;
  /** Runs an instant PromQL query; the result vector (or matrix) as Prometheus returns it. */
  query(expression: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The rule groups Prometheus loaded, with each rule's health. */
  rules(): Promise<
    Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }>
  >;
  stop(): Promise<void>;
};

/**
 * A real Prometheus (Debian's `prometheus`) scraping `target` every second, with `ruleFiles` loaded, its
 * data in a temporary directory. Fails with a clear message when the binary is missing.
 */
export async function startPrometheus(options: {
  target: string;
  ruleFiles: string[];
}): Promise<PrometheusServer> {
  const directory = await mkdtemp(join(tmpdir(), 'plainloop-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`),
    'scrape_configs:',
    '  - job_name: plainloop',
    '    static_configs:',
    `      - targets: [${JSON.stringify(options.target)}]`,
  ].join('\n');
  await writeFile(join(directory, 'prometheus.yml'), `${config}\n`);
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(directory, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(directory, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`could not start prometheus (install Debian's prometheus package): ${error.message}`)),
    );
    child.once('spawn', () => resolve());
  });
  await spawned;
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`prometheus to be ready (${stderr.slice(-500)})`, async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr.slice(-2000)}`);
    const response = await fetch(`${url}/-/ready`).catch(() => undefined);
    return response?.ok ? true : undefined;
  });
  const api = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    async query(expression) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(expression)}`)) as {
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      };
      return data.result;
    },
    async rules() {
      return ((await api('/api/v1/rules')) as { groups: never[] }).groups;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
