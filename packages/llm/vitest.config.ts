import { sharedTestConfig, withClusterMatrix } from '../../vitest.shared.ts';

/** The tests on Redis run on one Redis and again on a six-node Redis Cluster: the shared RPM and TPM windows, the breakers and the router over them. */
const onBoth = [
  'src/admission/admission-control.test.ts',
  'src/breaker/circuit-breaker.test.ts',
  'src/router/route-call.test.ts',
];

export default withClusterMatrix(sharedTestConfig, onBoth);
