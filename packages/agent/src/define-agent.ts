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
  memory?: AgentMemoryOptions;
};

/** How the agent's working context is fitted; every field has a default. */
export type AgentMemoryOptions = {
  /**
   * The most tokens a prompt may take, below the model's own window: a cost cap, and what decides when
   * a thread's older turns are summarized. Default: the smallest window of the agent's models.
   */
  contextTokens?: number;
  /** Tokens kept free for the answer. Default 4,096. */
  outputReserveTokens?: number;
  /** Share of the prompt a thread's recent turns may take before the oldest are summarized. Default 0.5. */
  historyShare?: number;
  /**
   * Semantic memory: exchanges folded out of a thread's summary are kept in the tenant's `namespace`
   * (default: the agent's name), the items nearest each run's input are recalled into its context, and
   * the model gets a `recall` tool. Off unless set.
   */
  recall?: { namespace?: string; limit?: number };
};

const AgentMemory = z.strictObject({
  contextTokens: z.int().min(256).optional(),
  outputReserveTokens: z.int().min(0).default(4_096),
  historyShare: z.number().gt(0).lt(1).default(0.5),
  recall: z
    .strictObject({
      namespace: z
        .string()
        .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'a namespace is 1-64 letters, digits, _ . or -')
        .optional(),
      limit: z.int().min(1).max(50).default(5),
    })
    .optional(),
});

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
  readonly memory: z.output<typeof AgentMemory>;
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
  const memory = AgentMemory.safeParse(definition.memory ?? {});
  if (!memory.success) {
    throw new AgentDefinitionError(`agent ${definition.name}: memory: ${memory.error.issues[0]?.message}`);
  }
  const { contextTokens, outputReserveTokens } = memory.data;
  if (contextTokens !== undefined && outputReserveTokens + 256 > contextTokens) {
    throw new AgentDefinitionError(
      `agent ${definition.name}: memory.outputReserveTokens (${outputReserveTokens}) leaves less than 256 of memory.contextTokens (${contextTokens}) for the prompt`,
    );
  }
  for (const reserved of ['remember_fact', 'recall']) {
    if (tools.has(reserved))
      throw new AgentDefinitionError(
        `agent ${definition.name}: ${reserved} is a built-in memory tool's name`,
      );
  }
  return Object.freeze({
    [agentBrand]: true as const,
    memory: memory.data,
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
