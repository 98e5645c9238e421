import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** Webhook delivery from a worker, on one Redis and on a Redis Cluster. */
export default withClusterMatrix(sharedTestConfig, ['src/run-webhooks.test.ts']);
