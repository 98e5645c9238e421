import { ConfigError } from './config-error.ts';

export type RedisClusterNode = { host: string; port: number };

/**
 * Where the fleet's Redis is, from `REDIS_URL`:
 * - `redis://` or `rediss://` (TLS): one Redis, as ioredis reads the URL;
 * - `redis+cluster://[user:password@]host:port,host:port,...` (`rediss+cluster://` for TLS): a Redis
 *   Cluster, found from any of the nodes named (ioredis asks one for the rest).
 * One variable for both, so everything that takes a Redis address takes a cluster too.
 */
export type RedisAddress =
  | { mode: 'single'; url: string }
  | {
      mode: 'cluster';
      nodes: RedisClusterNode[];
      username?: string;
      password?: string;
      tls: boolean;
    };

const clusterUrl = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/i;
const bracketed = /^\[([^\]]+)\](?::(\d+))?$/;
const plain = /^([^:[\]]+)(?::(\d+))?$/;

export function parseRedisAddress(url: string): RedisAddress {
  if (!/^rediss?\+cluster:/i.test(url)) return { mode: 'single', url };
  const match = clusterUrl.exec(url);
  if (!match) throw invalid('write it as redis+cluster://[user:password@]host:port,host:port');
  const [, scheme = 'redis', userinfo, hostList = ''] = match;
  const nodes = hostList.split(',').map((each) => {
    const node = bracketed.exec(each.trim()) ?? plain.exec(each.trim());
    const port = Number(node?.[2] ?? 6379);
    if (!node?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535)
      throw invalid(`"${each}" is not host:port`);
    return { host: node[1], port };
  });
  const address: RedisAddress = { mode: 'cluster', nodes, tls: scheme.toLowerCase() === 'rediss' };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const username = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
    const password = colon === -1 ? '' : decodeURIComponent(userinfo.slice(colon + 1));
    if (username) address.username = username;
    if (password) address.password = password;
  }
  return address;
}

/** A Redis address fit for a log line or an error message: the password blanked out. */
export function describeRedisUrl(url: string): string {
  try {
    const address = parseRedisAddress(url);
    if (address.mode === 'cluster') {
      const scheme = address.tls ? 'rediss+cluster' : 'redis+cluster';
      const user = address.username ?? '';
      const credentials = address.password ? `${user}:redacted@` : user ? `${user}@` : '';
      return `${scheme}://${credentials}${address.nodes.map(hostPort).join(',')}`;
    }
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

function hostPort(node: RedisClusterNode): string {
  return node.host.includes(':') ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}

function invalid(why: string): ConfigError {
  return new ConfigError(`invalid environment: REDIS_URL: ${why}`);
}
