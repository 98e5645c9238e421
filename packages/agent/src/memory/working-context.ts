import type { AgentLimits, GenerateOptions, ToolForModel } from '@plainloop/contracts';
import { buildContext, planSummary, type RecalledItem, type ThreadMemory, tokensOf } from '@plainloop/memory';
import type { BoundAgent } from '../bind-models.ts';
import type { RunSession } from '../run-session.ts';
import { recallScopeOf } from './recall-scope.ts';
import { applyPendingSummary, summarizeThread } from './summarize-thread.ts';

const noThread: ThreadMemory = { summary: undefined, facts: [], recentFrom: 0, recent: [] };

/**
 * What the run recalls for its input: looked up once per worker's hold on the run (not per step), so
 * the prompt's prefix stays the same from step to step. Items with no likeness at all are left out.
 */
async function recalledFor(session: RunSession, bound: BoundAgent, input: string): Promise<RecalledItem[]> {
  const { semantic } = session.environment;
  const scope = recallScopeOf(bound, session.state);
  if (scope === undefined || semantic === undefined) return [];
  if (session.recalled) return session.recalled;
  try {
    const found = await semantic.recall(scope, input, bound.agent.memory.recall?.limit ?? 5, session.signal);
    session.recalled = found.filter((item) => item.score > 0);
    return session.recalled;
  } catch (error) {
    // Recall helps; it is not worth failing a step for. The next step tries again.
    session.logger.warn({ err: error }, 'could not recall from semantic memory; going on without');
    return [];
  }
}

/** The run's input as the user's message, made once per input (not once per step). */
const inputTexts = new WeakMap<object, string>();
function inputTextOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input === null || typeof input !== 'object') return JSON.stringify(input);
  let text = inputTexts.get(input);
  if (text === undefined) {
    text = JSON.stringify(input);
    inputTexts.set(input, text);
  }
  return text;
}

/** What the model is sent besides the call's settings: the messages, the tools, the answer's schema. */
export type WorkingContext = Pick<GenerateOptions, 'messages' | 'tools' | 'responseSchema'>;

/** The tools offered to the model: the run's, less those the session breaker disabled. */
function toolsForModel({ agent }: BoundAgent, disabled: Readonly<Record<string, unknown>>): ToolForModel[] {
  // Almost always none is disabled: then the agent's list is made once, and so is its token count.
  const allEnabled = Object.keys(disabled).length === 0;
  const made = allEnabled ? allToolsOf.get(agent) : undefined;
  if (made) return made;
  const tools = [...agent.tools.values()]
    .filter(({ name }) => !(name in disabled))
    .map(({ description }) => ({
      name: description.name,
      description: description.description,
      inputSchema: description.inputSchema,
    }));
  if (allEnabled) allToolsOf.set(agent, tools);
  return tools;
}

const allToolsOf = new WeakMap<BoundAgent['agent'], ToolForModel[]>();
const toolTokensOf = new WeakMap<readonly ToolForModel[], number>();

function toolsTokens(tools: readonly ToolForModel[]): number {
  const known = toolTokensOf.get(tools);
  if (known !== undefined) return known;
  const tokens = tokensOf(JSON.stringify(tools));
  toolTokensOf.set(tools, tokens);
  return tokens;
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
): Promise<WorkingContext> {
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
  const tools = toolsForModel(bound, state.disabledTools);
  const schema = bound.agent.outputSchema;
  const responseSchema = schema ? { name: 'final_answer', schema } : undefined;
  const input = inputTextOf(state.input);
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
      memoryTokens: Math.floor(promptTokens / 8),
      toolsTokens: toolsTokens(tools) + (schema ? tokensOf(JSON.stringify(schema)) : 0),
    },
  );
  if (built.historyDropped > 0)
    session.logger.warn(
      { historyDropped: built.historyDropped },
      'older thread turns left out of the context',
    );
  return { messages: built.messages, tools, ...(responseSchema ? { responseSchema } : {}) };
}
