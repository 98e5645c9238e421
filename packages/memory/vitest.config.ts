import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: threads (turns, summaries, facts) and semantic memory. */
const onBoth = ['src/episodic/thread-store.test.ts', 'src/semantic/semantic-memory.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
