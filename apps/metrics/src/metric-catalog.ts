/**
 * The metrics built from run events. Their values live in Redis (each shard's `metrics.totals`), so they
 * survive restarts of the metrics process and every replica serves the same numbers. Names follow
 * Prometheus conventions: `_total` counters, `_seconds` histograms, `_usd` for money. The README's
 * metric table lists these names; a test reads every one of them from `/metrics`.
 */
export type EventMetric = {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  labels: readonly string[];
  /** Upper bounds of a histogram's buckets, in seconds. */
  buckets?: readonly number[];
};

const llmLatencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
const toolLatencyBuckets = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const runDurationBuckets = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

function metric(definition: EventMetric): EventMetric {
  return definition;
}

export function createCatalog(options: { tenantLabel: boolean }) {
  return {
    runsStarted: metric({
      name: 'plainloop_runs_started_total',
      help: 'Runs taken up for the first time.',
      type: 'counter',
      labels: ['agent'],
    }),
    runsResumed: metric({
      name: 'plainloop_runs_resumed_total',
      help: 'Runs taken up again after a crash, a handover or a wait.',
      type: 'counter',
      labels: ['agent'],
    }),
    runsFinished: metric({
      name: 'plainloop_runs_finished_total',
      help: 'Runs that ended, by terminal status.',
      type: 'counter',
      labels: ['agent', 'status'],
    }),
    runsWaiting: metric({
      name: 'plainloop_runs_waiting_total',
      help: 'Times a run was parked without holding a worker slot, by reason.',
      type: 'counter',
      labels: ['agent', 'reason'],
    }),
    runDuration: metric({
      name: 'plainloop_run_duration_seconds',
      help: 'Time from a run being queued to its end.',
      type: 'histogram',
      labels: ['agent', 'status'],
      buckets: runDurationBuckets,
    }),
    steps: metric({
      name: 'plainloop_steps_total',
      help: 'Steps started (one model call and its tool calls each).',
      type: 'counter',
      labels: ['agent', 'tier'],
    }),
    llmRequests: metric({
      name: 'plainloop_llm_requests_total',
      help: 'Model call attempts, by outcome: success or the normalised error kind.',
      type: 'counter',
      labels: ['provider', 'model', 'tier', 'outcome'],
    }),
    llmDuration: metric({
      name: 'plainloop_llm_request_duration_seconds',
      help: 'Latency of model call attempts, answered or failed.',
      type: 'histogram',
      labels: ['provider', 'model'],
      buckets: llmLatencyBuckets,
    }),
    llmTokens: metric({
      name: 'plainloop_llm_tokens_total',
      help: 'Tokens of answered model calls, by kind (cached_input is part of input, reasoning part of output).',
      type: 'counter',
      labels: ['provider', 'model', 'agent', 'kind'],
    }),
    llmCost: metric({
      name: 'plainloop_llm_cost_usd_total',
      help: 'What answered model calls cost, in US dollars.',
      type: 'counter',
      labels: options.tenantLabel ? ['provider', 'model', 'agent', 'tenant'] : ['provider', 'model', 'agent'],
    }),
    llmUnpriced: metric({
      name: 'plainloop_llm_unpriced_requests_total',
      help: 'Answered model calls with no known price (counted as 0 USD).',
      type: 'counter',
      labels: ['provider', 'model'],
    }),
    llmFallbacks: metric({
      name: 'plainloop_llm_fallbacks_total',
      help: "Model calls answered by a model after the first of the tier's chain.",
      type: 'counter',
      labels: ['agent', 'tier', 'provider', 'model'],
    }),
    toolCalls: metric({
      name: 'plainloop_tool_calls_total',
      help: 'Tool calls, by outcome (success or error).',
      type: 'counter',
      labels: ['agent', 'tool', 'outcome'],
    }),
    toolDuration: metric({
      name: 'plainloop_tool_duration_seconds',
      help: 'Latency of tool calls.',
      type: 'histogram',
      labels: ['agent', 'tool'],
      buckets: toolLatencyBuckets,
    }),
    toolErrors: metric({
      name: 'plainloop_tool_errors_total',
      help: 'Tool calls that failed, by structured error code.',
      type: 'counter',
      labels: ['agent', 'tool', 'code'],
    }),
    toolsDisabled: metric({
      name: 'plainloop_tools_disabled_total',
      help: 'Tools the session breaker disabled for the rest of a run.',
      type: 'counter',
      labels: ['agent', 'tool'],
    }),
    errors: metric({
      name: 'plainloop_errors_total',
      help: 'Errors by component (llm, tool, run) and code.',
      type: 'counter',
      labels: ['component', 'code'],
    }),
    breakerTransitions: metric({
      name: 'plainloop_breaker_transitions_total',
      help: 'Fleet-wide circuit breakers opened or closed.',
      type: 'counter',
      labels: ['provider', 'model', 'transition'],
    }),
    budgetStops: metric({
      name: 'plainloop_budget_stops_total',
      help: 'Runs stopped by a budget, by which budget.',
      type: 'counter',
      labels: ['agent', 'budget'],
    }),
    events: metric({
      name: 'plainloop_events_total',
      help: 'Run events applied by the metrics process, by type.',
      type: 'counter',
      labels: ['type'],
    }),
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
