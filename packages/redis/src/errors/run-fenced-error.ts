import { PlainloopError } from '@plainloop/contracts';

/**
 * A checkpoint write was refused because the run's version moved on: another worker took the run over
 * (a stalled lock, a crash replay), or the run is gone. The writer must stop working on the run.
 */
export class RunFencedError extends PlainloopError {
  readonly runId: string;
  readonly expectedVersion: number;
  readonly currentVersion: number | undefined;

  constructor(runId: string, expectedVersion: number, currentVersion: number | undefined) {
    super(
      'run_fenced',
      currentVersion === undefined
        ? `run ${runId} no longer exists`
        : `run ${runId} is at version ${currentVersion}, not ${expectedVersion}: another worker owns it`,
    );
    this.runId = runId;
    this.expectedVersion = expectedVersion;
    this.currentVersion = currentVersion;
  }
}
