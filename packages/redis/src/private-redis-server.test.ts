import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { checkRedisReachable, describeRedisUrl } from './check-redis.ts';
import { RedisUnavailableError } from './errors/redis-unavailable-error.ts';
import { startPrivateRedisServer } from './private-redis-server.ts';

describe('startPrivateRedisServer', () => {
  it('starts a real redis-server on a free port and stops it', async () => {
    const server = await startPrivateRedisServer();
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await server.stop();
    const after = new Redis(server.url, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    after.on('error', () => {});
    await expect(after.connect()).rejects.toThrow();
    after.disconnect();
  });

  it('says in one line what to install when redis-server is missing', async () => {
    const attempt = startPrivateRedisServer('/nonexistent/redis-server');
    await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
    await expect(attempt).rejects.toThrow(/^redis-server was not found: install Redis .* or set REDIS_URL$/);
  });
});

describe('checkRedisReachable', () => {
  it('passes for a live server and says what to do when none answers', async () => {
    const server = await startPrivateRedisServer();
    await expect(checkRedisReachable(server.url)).resolves.toBeUndefined();
    await server.stop();
    await expect(checkRedisReachable(server.url)).rejects.toThrow(
      new RegExp(
        `^cannot reach Redis at redis://127.0.0.1:${server.port}.*: start redis-server or set REDIS_URL$`,
      ),
    );
  });
});

describe('describeRedisUrl', () => {
  it('hides the password', () => {
    expect(describeRedisUrl('redis://user:hunter2@cache:6379/0')).toBe('redis://user:redacted@cache:6379/0');
  });
});
