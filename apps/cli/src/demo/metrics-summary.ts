import { setTimeout as sleep } from 'node:timers/promises';

/** The sum of every sample of `name` in a Prometheus text exposition. */
function total(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * What the metrics process counted once it has caught up with the demo's runs: one line for the demo
 * to print, read from `/metrics` as Prometheus would.
 */
export async function metricsSummary(metricsUrl: string, runs: number, deadline: number): Promise<string> {
  let text = '';
  while (Date.now() < deadline) {
    text = await fetch(`${metricsUrl}/metrics`)
      .then((response) => (response.ok ? response.text() : ''))
      .catch(() => '');
    if (
      total(text, 'plainloop_runs_finished_total') >= runs &&
      total(text, 'plainloop_event_consumer_lag') === 0
    )
      break;
    await sleep(200);
  }
  const requests = total(text, 'plainloop_llm_requests_total');
  const cost = total(text, 'plainloop_llm_cost_usd_total');
  const toolErrors = total(text, 'plainloop_tool_errors_total');
  return `Metrics (${metricsUrl}/metrics): ${total(text, 'plainloop_runs_finished_total')} runs finished, ${requests} model calls, ${total(text, 'plainloop_tool_calls_total')} tool calls (${toolErrors} failed), $${cost.toFixed(6)} spent`;
}
