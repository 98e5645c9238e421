import { type ChildProcess, execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, launchRedisServer } from './private-redis-server.ts';

const run = promisify(execFile);

export type ClusterNode = {
  port: number;
  /** `host:port`, as the cluster names it. */
  address: string;
};

export type PrivateRedisCluster = {
  /** The fleet's address of it: `redis+cluster://` and every node. */
  url: string;
  nodes: readonly ClusterNode[];
  /** The nodes serving slots now, as the cluster itself says (after a failover, the promoted replica). */
  masters(): Promise<ClusterNode[]>;
  /** The master serving `slot` now. */
  masterOf(slot: number): Promise<ClusterNode>;
  /** Kills a node as a crash would (SIGKILL): no shutdown, no final write. */
  crash(node: ClusterNode): Promise<void>;
  /** Waits until every live node says the cluster is ok, no slot is served by a dead node, and every live replica is in sync. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

export type PrivateRedisClusterOptions = {
  /** How long a master may be silent before its replica takes over (`cluster-node-timeout`). */
  nodeTimeoutMs?: number;
  binary?: string;
  cliBinary?: string;
};

/**
 * Six real redis-servers on free loopback ports, three masters and a replica each, joined by
 * `redis-cli --cluster create` (about 3 s). Each writes an append-only file in its own temporary
 * directory, as a production node would; `stop()` kills them and removes the directories.
 * A short node timeout lets a test see a failover in a few seconds.
 */
export async function startPrivateRedisCluster(
  options: PrivateRedisClusterOptions = {},
): Promise<PrivateRedisCluster> {
  const binary = options.binary ?? 'redis-server';
  const cliBinary = options.cliBinary ?? 'redis-cli';
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2_000;
  const directory = await mkdtemp(join(tmpdir(), 'plainloop-cluster-'));
  const children = new Map<number, ChildProcess>();
  const killAll = () => {
    for (const child of children.values()) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const crash = async (node: Pick<ClusterNode, 'port'>) => {
    const child = children.get(node.port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    process.removeListener('exit', killAll);
    await Promise.all([...children.keys()].map((port) => crash({ port })));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const nodes: ClusterNode[] = [];
    while (nodes.length < 6) {
      const port = await freePort();
      if (nodes.some((node) => node.port === port)) continue;
      const home = join(directory, String(port));
      await mkdir(home, { recursive: true });
      const launched = await launchRedisServer(binary, home, port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        '--appendonly',
        'yes',
        '--save',
        '',
        // A replica's first sync starts at once, not after the default 5 s wait for more replicas.
        '--repl-diskless-sync-delay',
        '0',
      ]);
      if (launched === 'port-taken') continue;
      children.set(port, launched);
      nodes.push({ port, address: `127.0.0.1:${port}` });
    }
    await run(
      cliBinary,
      [
        '--cluster',
        'create',
        ...nodes.map((node) => node.address),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const live = () => nodes.filter((node) => isRunning(children.get(node.port)));
    const cluster: PrivateRedisCluster = {
      url: `redis+cluster://${nodes.map((node) => node.address).join(',')}`,
      nodes,
      masters: async () => mastersOf(await slotsOf(cliBinary, live())),
      masterOf: async (slot) => {
        const owner = (await slotsOf(cliBinary, live())).find(
          (range) => range.from <= slot && slot <= range.to,
        );
        if (!owner) throw new Error(`no master serves slot ${slot}`);
        return owner.master;
      },
      crash,
      async waitUntilHealthy(timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const running = live();
          const healthy = await Promise.all(running.map((node) => clusterOk(cliBinary, node))).then((all) =>
            all.every(Boolean),
          );
          if (healthy) {
            const ranges = await slotsOf(cliBinary, running).catch(() => []);
            const covered = ranges.reduce((sum, range) => sum + range.to - range.from + 1, 0) === 16_384;
            const onLiveMasters = ranges.every((range) =>
              running.some((node) => node.port === range.master.port),
            );
            if (covered && onLiveMasters && (await replicasInSync(cliBinary, running))) return;
          }
          if (Date.now() > deadline) throw new Error(`the cluster was not healthy within ${timeoutMs} ms`);
          await sleep(100);
        }
      },
      stop,
    };
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

function isRunning(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

async function clusterOk(cliBinary: string, node: ClusterNode): Promise<boolean> {
  try {
    const { stdout } = await run(cliBinary, ['-p', String(node.port), 'cluster', 'info'], { timeout: 2_000 });
    return stdout.includes('cluster_state:ok');
  } catch {
    return false;
  }
}

/** Every live replica has its master's link up: a write can reach it (`WAIT`). */
async function replicasInSync(cliBinary: string, running: readonly ClusterNode[]): Promise<boolean> {
  const states = await Promise.all(
    running.map(async (node) => {
      try {
        const { stdout } = await run(cliBinary, ['-p', String(node.port), 'info', 'replication'], {
          timeout: 2_000,
        });
        return !stdout.includes('role:slave') || stdout.includes('master_link_status:up');
      } catch {
        return false;
      }
    }),
  );
  return states.every(Boolean);
}

type SlotRange = { from: number; to: number; master: ClusterNode };

/** `CLUSTER SHARDS` would say more, but `CLUSTER SLOTS` is what every Redis 7 and Valkey answers alike. */
async function slotsOf(cliBinary: string, running: readonly ClusterNode[]): Promise<SlotRange[]> {
  for (const node of running) {
    try {
      const { stdout } = await run(cliBinary, ['-p', String(node.port), '--json', 'cluster', 'slots'], {
        timeout: 2_000,
      });
      const replies = JSON.parse(stdout) as Array<
        [number, number, [string, number, ...unknown[]], ...unknown[]]
      >;
      return replies.map(([from, to, [host, port]]) => ({
        from,
        to,
        master: { port, address: `${host}:${port}` },
      }));
    } catch {}
  }
  throw new Error('no cluster node answered CLUSTER SLOTS');
}

function mastersOf(ranges: readonly SlotRange[]): ClusterNode[] {
  const byPort = new Map(ranges.map((range) => [range.master.port, range.master]));
  return [...byPort.values()].sort((one, other) => one.port - other.port);
}
