import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the runs' event streams and the shards' streams read across slots. */
const onBoth = ['src/run-event-stream.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
