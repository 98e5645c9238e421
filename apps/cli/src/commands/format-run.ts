import type { Run, StreamedEvent } from '@plainloop/client';
import { describeEvent } from '../demo/describe-event.ts';

export const usd = (amount: number) => `$${amount.toFixed(6)}`;
export const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)}s`;
export const count = (value: number) => value.toLocaleString('en-US');
/** An ISO time as `2026-05-01 12:00:03`, in UTC like the API's. */
export const timestamp = (iso: string | undefined) => (iso ? iso.replace('T', ' ').slice(0, 19) : '-');

/** A run's output for a terminal: text as it is, anything else as indented JSON. */
export function formatOutput(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output, null, 2);
}

/** The line that sums a finished run up. */
function outcomeLine(run: Run): string {
  const parts = [
    run.status,
    `${run.stepCount} step${run.stepCount === 1 ? '' : 's'}`,
    `${count(run.usage.inputTokens)} in / ${count(run.usage.outputTokens)} out tokens`,
    `${usd(run.costUsd)}${run.costComplete ? '' : ' (incomplete: a model had no known price)'}`,
    ...(run.durationMs === undefined ? [] : [seconds(run.durationMs)]),
  ];
  return parts.join(' · ');
}

/** The lines that say how a run ended: its outcome, then its output or its error. */
export function endingLines(run: Run): string[] {
  const lines = [outcomeLine(run)];
  if (run.error) lines.push(`error: ${run.error.code}: ${run.error.message}`);
  if (run.budget)
    lines.push(`budget: ${run.budget.budget} limit ${run.budget.limit}, spent ${run.budget.spent}`);
  if (run.output !== undefined) lines.push(`output: ${formatOutput(run.output)}`);
  return lines;
}

/**
 * Live progress for the events of one run: what each event says, and after each model call what the
 * run has cost so far. Unknown event types (a newer API) show by name.
 */
export function progressReporter(): (streamed: StreamedEvent) => string {
  let costSoFar = 0;
  return ({ event }) => {
    const line = describeEvent(event) ?? (event as { type: string }).type;
    if (event.type !== 'llm.called') return line;
    costSoFar += event.costUsd;
    return `${line} · ${usd(costSoFar)} so far`;
  };
}
