import { PlainloopError } from '@plainloop/contracts';

/**
 * A checkpoint that had to reach a replica (a non-idempotent call's "started" mark, on Redis Cluster)
 * landed on the master, but no replica acknowledged it in time. The write stands; what it guards must
 * not go ahead, since a failover now could undo the mark and let the call run twice.
 */
export class ReplicaUnavailableError extends PlainloopError {
  constructor() {
    super('replica_unavailable', 'no replica acknowledged the write within PLAINLOOP_REPLICA_WAIT_MS', {
      retryable: true,
    });
  }
}
