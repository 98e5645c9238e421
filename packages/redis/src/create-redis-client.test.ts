import { parseRedisAddress } from '@plainloop/config';
import { describe, expect, it } from 'vitest';
import { clusterOptionsFor } from './create-redis-client.ts';

function clusterAddress(url: string) {
  const address = parseRedisAddress(url);
  if (address.mode !== 'cluster') throw new Error(`${url} is not a cluster address`);
  return address;
}

describe('clusterOptionsFor', () => {
  it('reads from masters only, and retries a worker through a failover far longer than a producer', () => {
    const address = clusterAddress('redis+cluster://10.0.0.1:6379,10.0.0.2:6379');
    const worker = clusterOptionsFor('worker', address);
    const producer = clusterOptionsFor('producer', address);
    expect(worker.scaleReads).toBe('master');
    expect(producer.scaleReads).toBe('master');
    const patience = (options: typeof worker) =>
      (options.maxRedirections ?? 0) * (options.retryDelayOnFailover ?? 0);
    expect(patience(worker)).toBeGreaterThanOrEqual(60_000);
    expect(patience(producer)).toBeLessThanOrEqual(5_000);
  });

  it('gives every node the credentials of the URL', () => {
    const options = clusterOptionsFor(
      'worker',
      clusterAddress('redis+cluster://fleet:s%40cret@10.0.0.1:6379'),
    );
    expect(options.redisOptions).toMatchObject({ username: 'fleet', password: 's@cret' });
    expect(options.redisOptions?.tls).toBeUndefined();
  });

  it('with TLS, dials nodes by the names the cluster gives, so certificates can be checked', async () => {
    const options = clusterOptionsFor('worker', clusterAddress('rediss+cluster://cache.example.com:6379'));
    expect(options.redisOptions?.tls).toEqual({});
    const lookup = options.dnsLookup;
    expect(lookup).toBeDefined();
    const resolved = await new Promise((resolve) =>
      lookup?.('node-1.cache.example.com', (_error, address) => resolve(address)),
    );
    expect(resolved).toBe('node-1.cache.example.com');
  });
});
