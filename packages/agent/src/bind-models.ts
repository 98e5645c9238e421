import { type LanguageModel, ModelRef, modelRefOf, type Tier } from '@plainloop/contracts';
import { createPriceCatalog, type ModelCatalog, type PriceCatalog } from '@plainloop/llm';
import type { Agent } from './define-agent.ts';
import { AgentDefinitionError } from './errors/agent-definition-error.ts';

/** An agent with its model chains resolved for this process. */
export type BoundAgent = {
  agent: Agent;
  models: Record<Tier, readonly LanguageModel[]>;
  /**
   * The most tokens a prompt may take: the smallest context window among the agent's models (so any
   * model of a chain can take any prompt), capped by the agent's `memory.contextTokens`.
   */
  contextTokens: number;
};

/**
 * Assumed for a model whose context window nobody published (a local model behind an OpenAI-compatible
 * server, say). Set the real one with `contextWindow` in the prices file or `memory.contextTokens`.
 */
export const unknownContextWindow = 128_000;

export type BindingNotes = {
  /** Models left out of a chain because their provider is not configured here, with the reason. */
  skipped: string[];
  /** Models the price table does not know: their calls are counted at $0. */
  unpriced: string[];
};

/**
 * Resolves an agent's chains. A model whose provider is not configured in this process (no key) is
 * left out and reported, so the next model in the chain serves; a tier with no model left is an error
 * that stops the worker at start-up, not a run at 3am.
 */
export function bindModels(
  agent: Agent,
  catalog: ModelCatalog,
  prices: PriceCatalog = createPriceCatalog(),
): { bound: BoundAgent; notes: BindingNotes } {
  const notes: BindingNotes = { skipped: [], unpriced: [] };
  const resolveChain = (tier: Tier): LanguageModel[] => {
    const chain: LanguageModel[] = [];
    for (const choice of agent.models[tier]) {
      const resolution = catalog.resolve(choice);
      if (!resolution.ok) {
        notes.skipped.push(resolution.reason);
        continue;
      }
      if (!ModelRef.safeParse(modelRefOf(resolution.model)).success) {
        throw new AgentDefinitionError(
          `agent ${agent.name}: the model object "${modelRefOf(resolution.model)}" needs a lower-case provider and a model id without spaces`,
        );
      }
      chain.push(resolution.model);
      const priced = resolution.model.pricedAs ?? modelRefOf(resolution.model);
      if (resolution.model.provider !== 'scripted' || resolution.model.pricedAs) {
        if (!prices.knows(priced) && !notes.unpriced.includes(priced)) notes.unpriced.push(priced);
      }
    }
    if (chain.length === 0) {
      throw new AgentDefinitionError(
        `agent ${agent.name}: no usable model for the ${tier} tier (${notes.skipped.join('; ')})`,
      );
    }
    return chain;
  };
  const models = { plan: resolveChain('plan'), execute: resolveChain('execute') };
  const windows = [...models.plan, ...models.execute].map(
    (model) => prices.contextWindowOf(model.pricedAs ?? modelRefOf(model)) ?? unknownContextWindow,
  );
  const contextTokens = Math.min(...windows, agent.memory.contextTokens ?? Number.POSITIVE_INFINITY);
  return { bound: { agent, models, contextTokens }, notes };
}

/**
 * The agent with a run's own chains in place of its own (a fork trying another model), resolved the
 * same way; a chain with no usable model in this worker is refused with the reason, for the run to end
 * `failed` rather than run on models nobody asked for.
 */
export function bindRunModels(
  bound: BoundAgent,
  chains: { plan?: readonly string[]; execute?: readonly string[] },
  catalog: ModelCatalog | undefined,
  prices: PriceCatalog,
): { ok: true; bound: BoundAgent } | { ok: false; message: string } {
  if (catalog === undefined)
    return { ok: false, message: 'this worker has no model catalog to resolve the run’s models by name' };
  const agent: Agent = {
    ...bound.agent,
    models: {
      plan: chains.plan ?? bound.agent.models.plan,
      execute: chains.execute ?? bound.agent.models.execute,
    },
  };
  try {
    return { ok: true, bound: bindModels(agent, catalog, prices).bound };
  } catch (error) {
    if (error instanceof AgentDefinitionError) return { ok: false, message: error.message };
    throw error;
  }
}
