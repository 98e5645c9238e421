import type { PlainloopClient } from '@plainloop/client';

/**
 * Forks a finished run from a step and says what the fork cost against its source: the replayed steps
 * cost nothing again (no model call), so the fork's own cost is only what came after.
 */
export async function demoFork(
  client: PlainloopClient,
  source: { runId: string; label: string },
  fromStep: number,
): Promise<{ lines: string[]; succeeded: boolean }> {
  const forked = await client.fork(source.runId, { fromStep });
  const run = await client.waitForRun(forked.runId, { timeoutMs: 30_000 });
  const original = await client.getRun(source.runId);
  const replayedCost = run.forkedFrom?.costUsd ?? 0;
  const usd = (value: number) => `$${value.toFixed(6)}`;
  return {
    succeeded: run.status === 'succeeded',
    lines: [
      `Forked ${source.label} from step ${fromStep} with POST /v1/runs/:id/fork: ${forked.runId} ${run.status}.`,
      `  ${fromStep} steps replayed from the record (no model call, no tool run; they cost ${usd(replayedCost)} at the source),`,
      `  ${run.stepCount - fromStep} new ${run.stepCount - fromStep === 1 ? 'step' : 'steps'} for ${usd(run.costUsd)}: source ${usd(original.costUsd)} in all, fork ${usd(replayedCost + run.costUsd)}.`,
    ],
  };
}
