import type { AgentLimits, Message } from '@plainloop/contracts';
import { buildContext, planSummary, type RecalledItem, type ThreadMemory } from '@plainloop/memory';
import type { BoundAgent } from '../bind-models.ts';
import type { RunSession } from '../run-session.ts';
import { applyPendingSummary, summarizeThread } from './summarize-thread.ts';

const noThread: ThreadMemory = { summary: undefined, facts: [], recentFrom: 0, recent: [] };

/** What each run recalled for its input: looked up once per run, so its prompt prefix stays put. */
const recalledByRun = new WeakMap<RunSession, RecalledItem[]>();

async function recalledFor(session: RunSession, bound: BoundAgent, input: string): Promise<RecalledItem[]> {
  const { recall } = bound.agent.memory;
  const { semantic } = session.environment;
  if (recall === undefined || semantic === undefined) return [];
  const known = recalledByRun.get(session);
  if (known) return known;
  const scope = { tenantId: session.state.tenantId, namespace: recall.namespace ?? bound.agent.name };
  try {
    const items = await semantic.recall(scope, input, recall.limit, session.signal);
    recalledByRun.set(session, items);
    return items;
  } catch (error) {
    // Recall helps; it is not worth failing a step for. The next step tries again.
    session.logger.warn({ err: error }, 'could not recall from semantic memory; going on without');
    return [];
  }
}

/** The prompt budget of the agent's calls: the context it may use, less what it keeps for the answer. */
function promptTokensOf(bound: BoundAgent): number {
  return Math.max(256, bound.contextTokens - bound.agent.memory.outputReserveTokens);
}

/**
 * The messages of this step's model call. A run on a thread first brings the thread's memory up to
 * date: a summary checkpointed before a crash is applied, and recent turns that outgrew their share are
 * folded into the summary (a model call of its own, budgeted and ledgered). Then the context is fitted
 * into the prompt budget. Throws `ContextOverflowError` when even the essentials do not fit.
 */
export async function workingContext(
  session: RunSession,
  bound: BoundAgent,
  limits: AgentLimits,
): Promise<Message[]> {
  const { state, environment } = session;
  const promptTokens = promptTokensOf(bound);
  let memory = noThread;
  if (state.threadId !== undefined) {
    const thread = { tenantId: state.tenantId, threadId: state.threadId };
    await applyPendingSummary(session, bound);
    memory = await environment.threads.load(thread);
    const plan = planSummary(memory, promptTokens * bound.agent.memory.historyShare);
    if (plan && (await summarizeThread(session, bound, limits, memory, plan))) {
      memory = await environment.threads.load(thread);
    }
  }
  const disabled = Object.values(state.disabledTools).map(({ reason }) => reason);
  const input = typeof state.input === 'string' ? state.input : JSON.stringify(state.input);
  const built = buildContext(
    {
      instructions: bound.agent.instructions,
      notes:
        disabled.length === 0
          ? []
          : [
              `Some tools were disabled for the rest of this run and are no longer offered: ${disabled.join('; ')}. Work without them.`,
            ],
      facts: memory.facts,
      summary: memory.summary,
      history: memory.recent,
      input,
      turns: session.turns,
      recalled: await recalledFor(session, bound, input),
    },
    {
      promptTokens,
      toolOutputTokens: Math.floor(promptTokens / 4),
      recallTokens: Math.floor(promptTokens / 10),
    },
  );
  if (built.historyDropped > 0)
    session.logger.warn(
      { historyDropped: built.historyDropped },
      'older thread turns left out of the context',
    );
  return built.messages;
}
