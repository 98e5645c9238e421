import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

/**
 * The process tests set up whole fleets (workers, the metrics process, Prometheus, a first load) in
 * their hooks, several files at once on a 2-core machine: their hooks get the time a test gets.
 */
export default mergeConfig(sharedTestConfig, defineConfig({ test: { hookTimeout: 120_000 } }));
