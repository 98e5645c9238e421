import { createModelCatalog, scriptedModel } from '@plainloop/llm';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bindModels } from './bind-models.ts';
import { defineAgent } from './define-agent.ts';
import { AgentDefinitionError } from './errors/agent-definition-error.ts';
import { loadAgents } from './load-agents.ts';

const offline = scriptedModel({ name: 'offline', script: () => ({ text: 'ok' }) });
const base = {
  name: 'support',
  instructions: 'Help.',
  input: z.object({ message: z.string() }),
  models: { plan: ['openai:gpt-4.1', offline], execute: ['openai:gpt-4.1-mini', offline] },
};

describe('defineAgent', () => {
  it('defaults to 10 iterations and publishes JSON Schemas of its input and output', () => {
    const agent = defineAgent({ ...base, output: z.object({ reply: z.string() }) });
    expect(agent.limits).toEqual({ maxIterations: 10 });
    expect(agent.inputSchema).toMatchObject({ type: 'object', required: ['message'] });
    expect(agent.outputSchema).toMatchObject({ properties: { reply: { type: 'string' } } });
  });

  it.each([
    ['a name that is not a key-safe word', { ...base, name: 'Support Bot' }, /agent "Support Bot"/],
    [
      'an empty chain',
      { ...base, models: { plan: [], execute: ['openai:gpt-4.1'] } },
      /models.plan needs at least one model/,
    ],
    [
      'a model that is not provider:model',
      { ...base, models: { plan: ['gpt-4.1'], execute: ['openai:x'] } },
      /not provider:model/,
    ],
    ['a limit of zero iterations', { ...base, limits: { maxIterations: 0 } }, /limits: /],
  ])('refuses %s with a clear error', (_label, definition, message) => {
    expect(() => defineAgent(definition)).toThrow(AgentDefinitionError);
    expect(() => defineAgent(definition)).toThrow(message);
  });
});

describe('bindModels', () => {
  it('leaves out models whose provider has no credentials, and says why', () => {
    const { bound, notes } = bindModels(defineAgent(base), createModelCatalog({ openai: {} }));
    expect(bound.models.plan).toEqual([offline]);
    expect(notes.skipped).toEqual([
      'openai:gpt-4.1 needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)',
      'openai:gpt-4.1-mini needs OPENAI_API_KEY (or OPENAI_BASE_URL for a keyless server)',
    ]);
  });

  it('keeps the configured models first, in chain order', () => {
    const { bound, notes } = bindModels(
      defineAgent(base),
      createModelCatalog({ openai: { apiKey: 'sk-test' } }),
    );
    expect(bound.models.execute.map((model) => `${model.provider}:${model.modelId}`)).toEqual([
      'openai:gpt-4.1-mini',
      'scripted:offline',
    ]);
    expect(notes).toEqual({ skipped: [], unpriced: [] });
  });

  it('stops start-up when a tier has no usable model', () => {
    const agent = defineAgent({
      ...base,
      models: { plan: ['openai:gpt-4.1'], execute: ['openai:gpt-4.1-mini'] },
    });
    expect(() => bindModels(agent, createModelCatalog({ openai: {} }))).toThrow(
      /agent support: no usable model for the plan tier \(openai:gpt-4.1 needs OPENAI_API_KEY/,
    );
  });

  it('notes models the price table does not know', () => {
    const agent = defineAgent({ ...base, models: { plan: ['openai:gpt-9'], execute: ['openai:gpt-9'] } });
    const { notes } = bindModels(agent, createModelCatalog({ openai: { apiKey: 'sk-test' } }));
    expect(notes.unpriced).toEqual(['openai:gpt-9']);
  });
});

describe('loadAgents', () => {
  const fixture = (name: string) => new URL(`./test-fixtures/${name}`, import.meta.url).pathname;

  it('names a path with nothing there', async () => {
    await expect(loadAgents('/nonexistent/agents.ts')).rejects.toThrow(
      'no agents module at /nonexistent/agents.ts',
    );
  });

  it('refuses a module that does not export agents made by defineAgent', async () => {
    await expect(loadAgents(fixture('not-agents.ts'))).rejects.toThrow(
      /must default-export an agent or an array of agents/,
    );
  });

  it('refuses two agents with one name', async () => {
    await expect(loadAgents(fixture('twin-agents.ts'))).rejects.toThrow(/exports two agents named twin/);
  });
});
