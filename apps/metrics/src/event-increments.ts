import type { RunEvent, Usage } from '@plainloop/contracts';
import { tenantCostField, utcDayOf } from '@plainloop/telemetry';
import type { Catalog, EventMetric } from './metric-catalog.ts';
import { bucketOf, seriesField } from './metric-fields.ts';

/** Where an increment goes: the durable metrics, the alert window, or the tenants' daily cost. */
type IncrementTarget = 'totals' | 'window' | 'tenantCost';
export type Increment = { target: IncrementTarget; field: string; amount: number };

/** What the alert window counts per time bucket. */
export type WindowCount = 'runs' | 'runs_failed' | 'llm' | 'llm_failed' | 'cost_usd';

export type IncrementOptions = {
  catalog: Catalog;
  /** Width of one bucket of the alert window, in seconds. */
  windowBucketSeconds: number;
};

/** Run statuses that count as errors in the run error rate; budget stops and cancels are decisions. */
const failedRunStatuses: ReadonlySet<string> = new Set(['failed', 'max_iterations']);

const tokenKinds: ReadonlyArray<[keyof Usage, string]> = [
  ['inputTokens', 'input'],
  ['cachedInputTokens', 'cached_input'],
  ['outputTokens', 'output'],
  ['reasoningTokens', 'reasoning'],
  ['cacheWriteTokens', 'cache_write'],
];

function splitModel(model: string): { provider: string; model: string } {
  const colon = model.indexOf(':');
  return { provider: model.slice(0, colon), model: model.slice(colon + 1) };
}

/** `llm_rate_limited` -> `rate_limited`: the outcome label of a failed model call. */
function outcomeOf(code: string): string {
  return code.startsWith('llm_') ? code.slice(4) : code;
}

/**
 * What one run event adds to the metrics: a pure function, so what the metrics mean can be read (and
 * tested) without Redis. Every increment of one event is applied in one script with its
 * acknowledgement, so an event counts once or not at all.
 */
export function incrementsOf(event: RunEvent, options: IncrementOptions): Increment[] {
  const { catalog } = options;
  const increments: Increment[] = [];
  const count = (metric: EventMetric, labels: Record<string, string>, amount = 1) => {
    if (amount !== 0) increments.push({ target: 'totals', field: seriesField(metric, labels), amount });
  };
  const observe = (metric: EventMetric, labels: Record<string, string>, seconds: number) => {
    const series = seriesField(metric, labels);
    const bucket = bucketOf(metric.buckets ?? [], seconds);
    increments.push(
      { target: 'totals', field: `${series}|${bucket}`, amount: 1 },
      { target: 'totals', field: `${series}|sum`, amount: seconds },
      { target: 'totals', field: `${series}|count`, amount: 1 },
    );
  };
  const windowBucket =
    Math.floor(event.at / 1000 / options.windowBucketSeconds) * options.windowBucketSeconds;
  const inWindow = (what: WindowCount, amount = 1) => {
    if (amount !== 0) increments.push({ target: 'window', field: `${windowBucket}|${what}`, amount });
  };
  const { agent } = event;

  count(catalog.events, { type: event.type });
  switch (event.type) {
    case 'run.queued':
      break;
    case 'run.started':
      count(catalog.runsStarted, { agent });
      break;
    case 'run.resumed':
      count(catalog.runsResumed, { agent });
      break;
    case 'step.started':
      count(catalog.steps, { agent, tier: event.tier });
      break;
    case 'run.waiting':
      count(catalog.runsWaiting, { agent, reason: event.reason });
      break;
    case 'llm.called': {
      const model = splitModel(event.model);
      count(catalog.llmRequests, { ...model, tier: event.tier, outcome: 'success' });
      observe(catalog.llmDuration, model, event.latencyMs / 1000);
      for (const [field, kind] of tokenKinds) {
        count(catalog.llmTokens, { ...model, agent, kind }, event.usage[field] ?? 0);
      }
      count(catalog.llmCost, { ...model, agent, tenant: event.tenantId }, event.costUsd);
      if (!event.costKnown) count(catalog.llmUnpriced, model);
      if (event.fallback) count(catalog.llmFallbacks, { ...model, agent, tier: event.tier });
      inWindow('llm');
      inWindow('cost_usd', event.costUsd);
      if (event.costUsd > 0) {
        increments.push({
          target: 'tenantCost',
          field: tenantCostField(utcDayOf(event.at), event.tenantId),
          amount: event.costUsd,
        });
      }
      break;
    }
    case 'llm.failed': {
      const model = splitModel(event.model);
      count(catalog.llmRequests, { ...model, tier: event.tier, outcome: outcomeOf(event.error.code) });
      observe(catalog.llmDuration, model, event.latencyMs / 1000);
      count(catalog.errors, { component: 'llm', code: event.error.code });
      inWindow('llm');
      inWindow('llm_failed');
      break;
    }
    case 'tool.called':
      count(catalog.toolCalls, { agent, tool: event.tool, outcome: 'success' });
      observe(catalog.toolDuration, { agent, tool: event.tool }, event.latencyMs / 1000);
      break;
    case 'tool.failed':
      count(catalog.toolCalls, { agent, tool: event.tool, outcome: 'error' });
      observe(catalog.toolDuration, { agent, tool: event.tool }, event.latencyMs / 1000);
      count(catalog.toolErrors, { agent, tool: event.tool, code: event.error.code });
      count(catalog.errors, { component: 'tool', code: event.error.code });
      break;
    case 'tool.disabled':
      count(catalog.toolsDisabled, { agent, tool: event.tool });
      break;
    case 'breaker.opened':
    case 'breaker.closed':
      count(catalog.breakerTransitions, {
        ...splitModel(event.model),
        transition: event.type === 'breaker.opened' ? 'opened' : 'closed',
      });
      break;
    case 'budget.exceeded':
      count(catalog.budgetStops, { agent, budget: event.budget });
      break;
    case 'run.finished':
      count(catalog.runsFinished, { agent, status: event.status });
      observe(catalog.runDuration, { agent, status: event.status }, event.durationMs / 1000);
      if (event.error) count(catalog.errors, { component: 'run', code: event.error.code });
      inWindow('runs');
      if (failedRunStatuses.has(event.status)) inWindow('runs_failed');
      break;
  }
  return increments;
}
