import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Agent, isAgent } from './define-agent.ts';
import { AgentDefinitionError } from './errors/agent-definition-error.ts';

async function indexOf(directory: string): Promise<string> {
  for (const name of ['index.ts', 'index.js', 'index.mjs']) {
    const candidate = resolve(directory, name);
    if (await stat(candidate).catch(() => undefined)) return candidate;
  }
  throw new AgentDefinitionError(`${directory} has no index.ts, index.js or index.mjs`);
}

/**
 * Loads the agents a module default-exports (one agent or an array), from a file or a directory with
 * an index. Users add agents this way without forking plainloop.
 */
export async function loadAgents(path: string): Promise<Agent[]> {
  const absolute = resolve(path);
  const found = await stat(absolute).catch(() => undefined);
  if (!found) throw new AgentDefinitionError(`no agents module at ${absolute}`);
  const entry = found.isDirectory() ? await indexOf(absolute) : absolute;
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  } catch (error) {
    throw new AgentDefinitionError(
      `the agents module ${absolute} failed to load: ${(error as Error).message}`,
      error,
    );
  }
  const exported = loaded.default;
  const agents = Array.isArray(exported) ? exported : [exported];
  if (agents.length === 0 || !agents.every(isAgent)) {
    throw new AgentDefinitionError(
      `${absolute} must default-export an agent or an array of agents made by defineAgent()`,
    );
  }
  const names = new Set<string>();
  for (const agent of agents) {
    if (names.has(agent.name))
      throw new AgentDefinitionError(`${absolute} exports two agents named ${agent.name}`);
    names.add(agent.name);
  }
  return agents;
}
