import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the worker and its webhooks. */
const onBoth = ['src/run-webhooks.test.ts', 'src/start-worker.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
