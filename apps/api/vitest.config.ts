import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: every route, the per-tenant rate limits among them. */
const onBoth = [
  'src/api-properties.test.ts',
  'src/build-api.test.ts',
  'src/openapi.test.ts',
  'src/run-control.test.ts',
];

export default withClusterMatrix(sharedTestConfig, onBoth);
