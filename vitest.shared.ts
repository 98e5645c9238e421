import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Test settings shared by every workspace package. Tests that touch Redis get a real redis-server
 * from the global setup (a private one unless REDIS_URL is set).
 */
export const sharedTestConfig = defineConfig({
  test: {
    globalSetup: [fileURLToPath(new URL('./packages/testing/src/redis-global-setup.ts', import.meta.url))],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    include: ['src/**/*.test.ts', 'bin/**/*.test.ts', 'bench/**/*.test.ts'],
  },
});
