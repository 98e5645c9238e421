import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.ts';
import { loadConfig } from './load-config.ts';
import { describeRedisUrl, parseRedisAddress } from './redis-address.ts';
import { secretsOf } from './secrets-of.ts';

describe('parseRedisAddress', () => {
  it('leaves a single Redis URL to ioredis, as it is', () => {
    expect(parseRedisAddress('rediss://user:pw@cache:6380/2')).toEqual({
      mode: 'single',
      url: 'rediss://user:pw@cache:6380/2',
    });
  });

  it('reads a cluster: every node, the credentials decoded, TLS from the scheme, 6379 by default', () => {
    expect(parseRedisAddress('rediss+cluster://app:p%40ss@10.0.0.1:7000,[::1]:7001,redis-2')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
        { host: 'redis-2', port: 6379 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisAddress('redis+cluster://:secret@a:1')).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'a', port: 1 }],
      password: 'secret',
      tls: false,
    });
  });

  it('refuses a cluster address it cannot read, in one line naming REDIS_URL, at loadConfig', () => {
    for (const url of ['redis+cluster://', 'redis+cluster://a:1,b:notaport', 'redis+cluster://a:99999']) {
      expect(() => loadConfig({ REDIS_URL: url })).toThrow(ConfigError);
      expect(() => loadConfig({ REDIS_URL: url })).toThrow(/^invalid environment: REDIS_URL: [^\n]+$/);
    }
  });

  it('blanks the password of a cluster address in a log line, and gives it to the redaction', () => {
    const url = 'redis+cluster://app:hunter2-password@a:7000,b:7001';
    expect(describeRedisUrl(url)).toBe('redis+cluster://app:redacted@a:7000,b:7001');
    expect(secretsOf(loadConfig({}), url)).toContain('hunter2-password');
  });
});
