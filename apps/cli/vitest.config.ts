import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/**
 * The process-level tests that run twice, as a matrix: on one Redis and on a real six-node Redis
 * Cluster. Each is a behaviour a fleet on a cluster relies on: SIGKILL resume, fencing and SIGTERM
 * hand-over, the breaker and shared RPM across workers, cancel and approval, metrics exactly once
 * across a restart, thread order, the SIGKILL storm, scaling out, the demo. (The Redis crash and the
 * cluster failover start a Redis of their own: they run once.)
 */
const onBoth = [
  'src/worker-process.test.ts',
  'src/fleet-routing.test.ts',
  'src/fleet-control.test.ts',
  'src/metrics-restart.test.ts',
  'src/memory-process.test.ts',
  'src/chaos.test.ts',
  'src/scale.test.ts',
  'src/client.test.ts',
  'src/demo.test.ts',
];

/**
 * The process tests set up whole fleets (workers, the metrics process, Prometheus, a first load) in
 * their hooks, several files at once on a 2-core machine: their hooks get the time a test gets.
 */
const shared = mergeConfig(sharedTestConfig, defineConfig({ test: { hookTimeout: 120_000 } }));

export default withClusterMatrix(shared, onBoth);
