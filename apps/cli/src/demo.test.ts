import { testRedisUrl } from '@plainloop/testing';
import { describe, expect, it } from 'vitest';
import { runPlainloop } from './test-fixtures/plainloop-command.ts';

// In the matrix: the demo's whole flow (five runs, a webhook, a fork) on the Redis it is given, one
// Redis or a cluster. The demo on a fresh machine, with its own redis-server, is in cli.test.ts.
describe('plainloop demo on a Redis it is given', () => {
  it('runs the example agents, delivers the webhook, forks a run and exits 0', async () => {
    const redisUrl = testRedisUrl();
    const { code, stdout, stderr } = await runPlainloop(
      ['demo'],
      { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redisUrl },
      { timeoutMs: 120_000 },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('(from REDIS_URL)');
    expect(stdout.match(/^(research|lead)-\d\s+\S+\s+succeeded\s+\d+/gm)).toHaveLength(5);
    expect(stdout).toMatch(/^Webhook: research-1 ended succeeded; .*signature verified\.$/m);
    expect(stdout).toMatch(/^Forked research-1 from step 2 .*: run_\w+ succeeded\.$/m);
    expect(stdout).toContain('All 5 runs succeeded.');
  }, 150_000);
});
