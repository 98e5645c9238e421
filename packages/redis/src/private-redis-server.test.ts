import { type AddressInfo, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { checkRedisReachable, describeRedisUrl } from './check-redis.ts';
import { RedisAuthError } from './errors/redis-auth-error.ts';
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

  it('gives up on a listener that accepts and never answers within its timeout, and closes the connection', async () => {
    let open = 0;
    const silent = createServer((socket) => {
      open += 1;
      socket.resume();
      socket.on('close', () => {
        open -= 1;
      });
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      const attempt = checkRedisReachable(`redis://127.0.0.1:${port}`, 300);
      await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(attempt).rejects.toThrow(
        `cannot reach Redis at redis://127.0.0.1:${port} (no answer within 300 ms): start redis-server or set REDIS_URL`,
      );
      expect(Date.now() - started).toBeLessThan(1_000);
      await expect.poll(() => open, { timeout: 1_000 }).toBe(0);
    } finally {
      silent.close();
    }
  });

  it('tells credentials Redis refuses apart from an outage', async () => {
    const server = await startPrivateRedisServer();
    try {
      const admin = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      await admin.config('SET', 'requirepass', 'the-right-password');
      admin.disconnect();
      const wrong = checkRedisReachable(`redis://:hunter2@127.0.0.1:${server.port}`);
      await expect(wrong).rejects.toBeInstanceOf(RedisAuthError);
      await expect(wrong).rejects.toThrow(
        new RegExp(
          `^Redis at redis://:redacted@127.0.0.1:${server.port} refused the credentials \\(WRONGPASS `,
        ),
      );
      await expect(checkRedisReachable(server.url)).rejects.toThrow(/refused the credentials \(NOAUTH /);
      await expect(
        checkRedisReachable(`redis://:the-right-password@127.0.0.1:${server.port}`),
      ).resolves.toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});

describe('describeRedisUrl', () => {
  it('hides the password', () => {
    expect(describeRedisUrl('redis://user:hunter2@cache:6379/0')).toBe('redis://user:redacted@cache:6379/0');
  });
});
