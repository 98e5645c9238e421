import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: webhook delivery. */
const onBoth = ['src/start-webhook-worker.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
