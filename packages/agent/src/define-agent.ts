import { AgentLimits, AgentName, type LanguageModel, ModelRef, type Tier } from '@plainloop/contracts';
import type { Tool } from '@plainloop/tools';
import { z } from 'zod';
import { AgentDefinitionError } from './errors/agent-definition-error.ts';
import type { TierContext } from './tier-policy.ts';

/** A model in a chain: a `provider:model` ref, or a model object (scripted, or your own adapter). */
export type ModelChoice = ModelRef | LanguageModel;

export type AgentDefinition<Input extends z.ZodType, Output extends z.ZodType | undefined> = {
  name: string;
  description?: string;
  instructions: string;
  input: Input;
  /** Validates the final answer; without it the output is the model's text. */
  output?: Output;
  tools?: Tool[];
  /** Ordered fallback chains per tier: `plan` for the first step and after a failed one, `execute` otherwise. */
  models: { plan: ModelChoice[]; execute: ModelChoice[] };
  limits?: Partial<AgentLimits>;
  /** Chooses the tier of each step; the default plans on the first step and after one that went wrong. */
  chooseTier?: (context: TierContext) => Tier;
};

const agentBrand = Symbol.for('plainloop.agent');

export type Agent = {
  readonly [agentBrand]: true;
  readonly name: string;
  readonly description: string | undefined;
  readonly instructions: string;
  readonly input: z.ZodType;
  readonly output: z.ZodType | undefined;
  readonly tools: ReadonlyMap<string, Tool>;
  readonly models: { readonly plan: readonly ModelChoice[]; readonly execute: readonly ModelChoice[] };
  readonly limits: AgentLimits;
  readonly chooseTier: ((context: TierContext) => Tier) | undefined;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown> | undefined;
};

export const defaultMaxIterations = 10;

export function isAgent(value: unknown): value is Agent {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[agentBrand] === true
  );
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
}

function checkChain(agent: string, tier: string, chain: readonly ModelChoice[]) {
  if (chain.length === 0)
    throw new AgentDefinitionError(`agent ${agent}: models.${tier} needs at least one model`);
  for (const choice of chain) {
    if (typeof choice === 'string' && !ModelRef.safeParse(choice).success) {
      throw new AgentDefinitionError(`agent ${agent}: "${choice}" in models.${tier} is not provider:model`);
    }
  }
}

/**
 * Declares an agent: instructions, zod input and output, atomic tools, model chains per tier and
 * limits. The worker loads agents from a module (`--agents <path>`) that default-exports one or an
 * array of them.
 */
export function defineAgent<Input extends z.ZodType, Output extends z.ZodType | undefined = undefined>(
  definition: AgentDefinition<Input, Output>,
): Agent {
  const name = AgentName.safeParse(definition.name);
  if (!name.success)
    throw new AgentDefinitionError(`agent "${definition.name}": ${name.error.issues[0]?.message}`);
  const tools = new Map<string, Tool>();
  for (const tool of definition.tools ?? []) {
    if (tools.has(tool.name))
      throw new AgentDefinitionError(`agent ${definition.name}: two tools are named ${tool.name}`);
    tools.set(tool.name, tool);
  }
  checkChain(definition.name, 'plan', definition.models.plan);
  checkChain(definition.name, 'execute', definition.models.execute);
  const limits = AgentLimits.safeParse({ maxIterations: defaultMaxIterations, ...definition.limits });
  if (!limits.success) {
    throw new AgentDefinitionError(`agent ${definition.name}: limits: ${limits.error.issues[0]?.message}`);
  }
  return Object.freeze({
    [agentBrand]: true as const,
    name: definition.name,
    description: definition.description,
    instructions: definition.instructions,
    input: definition.input,
    output: definition.output,
    tools,
    models: Object.freeze({ plan: [...definition.models.plan], execute: [...definition.models.execute] }),
    limits: limits.data,
    chooseTier: definition.chooseTier,
    inputSchema: jsonSchemaOf(definition.input, 'input'),
    outputSchema: definition.output ? jsonSchemaOf(definition.output, 'output') : undefined,
  });
}
