import type { RunEvent } from '@plainloop/contracts';

const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)}s`;
const usd = (amount: number) => `$${amount.toFixed(6)}`;

/** One line of live progress for an event. */
export function describeEvent(event: RunEvent): string {
  switch (event.type) {
    case 'run.queued':
      return 'queued';
    case 'run.started':
      return 'picked up by a worker';
    case 'run.resumed':
      return `resumed at step ${event.step} (attempt ${event.attempt})`;
    case 'step.started':
      return `step ${event.step} · ${event.tier} tier`;
    case 'llm.called': {
      const answer =
        event.toolCalls > 0
          ? `${event.toolCalls} tool call${event.toolCalls > 1 ? 's' : ''}`
          : 'final answer';
      return `  ${event.model} → ${answer} (${event.usage.inputTokens} in / ${event.usage.outputTokens} out tokens, ${usd(event.costUsd)}, ${seconds(event.latencyMs)})`;
    }
    case 'llm.failed':
      return `  ${event.model} failed: ${event.error.code}: ${event.error.message}`;
    case 'tool.called':
      return `  tool ${event.tool} ok (${seconds(event.latencyMs)})`;
    case 'tool.failed':
      return `  tool ${event.tool} failed: ${event.error.code}: ${event.error.message}`;
    case 'tool.disabled':
      return `  tool ${event.tool} disabled for this run after ${event.failures} failures in a row`;
    case 'breaker.opened':
      return `  breaker of ${event.model} opened after ${event.failures} failures: the fleet skips it for ${seconds(event.cooldownMs)}`;
    case 'breaker.closed':
      return `  breaker of ${event.model} closed: the model answers again`;
    case 'run.waiting':
      return `waiting (${event.reason}) until ${new Date(event.until).toISOString()}`;
    case 'memory.summarized':
      return `thread memory: ${event.foldedExchanges} older exchanges folded into the summary (${event.facts} facts)`;
    case 'budget.exceeded':
      return `budget ${event.budget} exceeded: ${event.spent} of ${event.limit}`;
    case 'run.finished':
      return `finished: ${event.status} after ${event.steps} step${event.steps === 1 ? '' : 's'} in ${seconds(event.durationMs)}`;
  }
}
