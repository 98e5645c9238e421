import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the metrics process's consumer groups over every shard's stream. */
const onBoth = ['src/start-metrics.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
