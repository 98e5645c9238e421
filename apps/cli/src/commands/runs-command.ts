import type { Run, RunListItem, RunTimeline } from '@plainloop/client';
import { RunStatus } from '@plainloop/contracts';
import { formatTable } from '../demo/format-table.ts';
import { UsageError } from '../usage-error.ts';
import {
  type CommandContext,
  clientFor,
  integerFlag,
  parseCommandLine,
  writeJson,
  writeLine,
} from './command-line.ts';
import { exitCodes } from './exit-codes.ts';
import { count, formatOutput, seconds, timestamp, usd } from './format-run.ts';

const listUsage =
  'plainloop runs ls [--status <status>] [--agent <name>] [--thread <id>] [--limit <n>] [--json]';
const showUsage = 'plainloop runs show <id> [--json]';

/** `plainloop runs ls | show`. */
export async function runsCommand(argv: string[], context: CommandContext): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'ls':
    case 'list':
      return listRuns(rest, context);
    case 'show':
      return showRun(rest, context);
    default:
      throw new UsageError(
        subcommand === undefined
          ? `runs needs a subcommand: ${listUsage}, or ${showUsage}`
          : `unknown subcommand "runs ${subcommand}": ${listUsage}, or ${showUsage}`,
      );
  }
}

/** The newest runs that fit, up to `--limit` (20), following the API's cursor past short pages. */
async function listRuns(argv: string[], context: CommandContext): Promise<number> {
  const { values } = parseCommandLine(
    argv,
    {
      status: { type: 'string' },
      agent: { type: 'string' },
      thread: { type: 'string' },
      limit: { type: 'string' },
    },
    { names: [], usage: listUsage },
  );
  const status = values.status === undefined ? undefined : RunStatus.safeParse(values.status);
  if (status && !status.success)
    throw new UsageError(`--status must be one of ${RunStatus.options.join(', ')}, not "${values.status}"`);
  const limit = values.limit === undefined ? 20 : integerFlag('limit', values.limit, 1, 1_000);
  const client = clientFor(values, context.environment);
  const runs: RunListItem[] = [];
  for await (const run of client.runs({
    ...(status ? { status: status.data } : {}),
    ...(values.agent === undefined ? {} : { agent: values.agent }),
    ...(values.thread === undefined ? {} : { threadId: values.thread }),
    limit: Math.min(limit, 100),
  })) {
    runs.push(run);
    if (runs.length === limit) break;
  }
  if (values.json) {
    writeJson(context.output, { runs });
    return exitCodes.success;
  }
  if (runs.length === 0) {
    writeLine(context.output, 'no runs');
    return exitCodes.success;
  }
  const rows = runs.map((run) => [
    run.runId,
    run.agent,
    run.status,
    String(run.steps),
    usd(run.costUsd),
    timestamp(run.createdAt),
  ]);
  writeLine(
    context.output,
    formatTable(
      ['run', 'agent', 'status', 'steps', 'cost (USD)', 'created'],
      rows,
      new Set(['steps', 'cost (USD)']),
    ),
  );
  return exitCodes.success;
}

/** One run: its summary, then its timeline as a table. */
async function showRun(argv: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {}, { names: ['<id>'], usage: showUsage });
  const runId = positionals[0] as string;
  const client = clientFor(values, context.environment);
  const [run, timeline] = await Promise.all([client.getRun(runId), client.steps(runId)]);
  if (values.json) {
    writeJson(context.output, { run, timeline: timeline.steps });
    return exitCodes.success;
  }
  for (const line of summaryLines(run)) writeLine(context.output, line);
  writeLine(context.output);
  writeLine(context.output, timelineTable(timeline));
  return exitCodes.success;
}

function summaryLines(run: Run): string[] {
  const fields: Array<[string, string]> = [
    ['run', run.runId],
    ['agent', run.agent],
    ['status', run.status],
    ['steps', String(run.stepCount)],
    ['tokens', `${count(run.usage.inputTokens)} in / ${count(run.usage.outputTokens)} out`],
    ['cost', `${usd(run.costUsd)}${run.costComplete ? '' : ' (incomplete: a model had no known price)'}`],
    ['created', timestamp(run.createdAt)],
    [
      'finished',
      run.finishedAt
        ? `${timestamp(run.finishedAt)}${run.durationMs === undefined ? '' : ` (${seconds(run.durationMs)})`}`
        : '-',
    ],
  ];
  if (run.forkedFrom)
    fields.push([
      'forked from',
      `${run.forkedFrom.runId} at step ${run.forkedFrom.step} (the steps replayed cost ${usd(run.forkedFrom.costUsd)} there)`,
    ]);
  if (run.error) fields.push(['error', `${run.error.code}: ${run.error.message}`]);
  if (run.budget)
    fields.push(['budget', `${run.budget.budget}: limit ${run.budget.limit}, spent ${run.budget.spent}`]);
  for (const approval of run.approvals.filter((each) => each.decision === 'pending'))
    fields.push([
      'approval',
      `call ${approval.callId} (${approval.tool ?? 'a tool'} ${JSON.stringify(approval.arguments)}) waits: plainloop approve ${run.runId} ${approval.callId} [--deny]`,
    ]);
  if (run.output !== undefined) fields.push(['output', formatOutput(run.output)]);
  const width = Math.max(...fields.map(([name]) => name.length));
  return fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
}

/**
 * A row per model call (the step and tier on its first), the step's tool calls beside it. A fork's
 * first steps are its source's, replayed from the record: marked so, their cost was the source's.
 */
function timelineTable(timeline: RunTimeline): string {
  const rows: string[][] = [];
  for (const step of timeline.steps) {
    const tools =
      step.toolCalls
        .map((call) => `${call.tool} ${call.outcome === 'success' ? 'ok' : (call.code ?? 'error')}`)
        .join(', ') || '-';
    const calls = step.modelCalls.length > 0 ? step.modelCalls : [undefined];
    calls.forEach((call, index) => {
      rows.push([
        index === 0 ? String(step.step) : '',
        index === 0 ? `${step.tier ?? '-'}${step.replayed ? ' (replayed)' : ''}` : '',
        call?.model ?? '-',
        call ? count(call.tokens.input) : '-',
        call ? count(call.tokens.output) : '-',
        call ? usd(call.costUsd) : '-',
        call ? seconds(call.latencyMs) : '-',
        index === 0 ? tools : '',
      ]);
    });
  }
  if (rows.length === 0) return 'no steps yet';
  return formatTable(
    ['step', 'tier', 'model', 'tokens in', 'tokens out', 'cost (USD)', 'latency', 'tool calls'],
    rows,
    new Set(['step', 'tokens in', 'tokens out', 'cost (USD)', 'latency']),
  );
}
