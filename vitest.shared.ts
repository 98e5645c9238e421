import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

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

/**
 * A package's tests as a matrix: all of them on one Redis (project `single`), and `onBoth` again on a
 * private six-node Redis Cluster (project `cluster`), started once for the run.
 */
export function withClusterMatrix(config: ViteUserConfig, onBoth: readonly string[]): ViteUserConfig {
  return defineConfig({
    test: {
      projects: [
        { ...config, test: { ...config.test, name: 'single' } },
        // Not merged: merging would add the single Redis's global setup to the cluster's.
        {
          ...config,
          test: {
            ...config.test,
            name: 'cluster',
            include: [...onBoth],
            globalSetup: [
              fileURLToPath(new URL('./packages/testing/src/redis-cluster-global-setup.ts', import.meta.url)),
            ],
          },
        },
      ],
    },
  });
}
