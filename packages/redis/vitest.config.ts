import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the webhook queue (run-store.test.ts stays on one Redis: it counts one Redis's script calls, cuts one server's connections and moves the layout before shards, which a cluster never has). */
const onBoth = ['src/webhook-queue.test.ts'];

export default withClusterMatrix(sharedTestConfig, onBoth);
