import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the step machine: fencing, budgets and tenant spend, cancellation, approvals, forks, thread memory (replica-wait.test.ts has a cluster of its own). */
const onBoth = [
  'src/approvals.test.ts',
  'src/execute-run.test.ts',
  'src/fork-run.test.ts',
  'src/memory/thread-memory.test.ts',
];

export default withClusterMatrix(sharedTestConfig, onBoth);
