import { type ScriptContext, type ScriptedReply, scriptedModel } from '@plainloop/llm';

/**
 * Offline stand-ins for an example agent's two tiers, used when no OPENAI_API_KEY is set: the same
 * script behind both, each priced as the real model it stands in for, so the demo's costs show what
 * tiered routing saves.
 */
export function offlineTiers(name: string, script: (context: ScriptContext) => ScriptedReply) {
  return {
    plan: scriptedModel({ name: `${name}-plan`, script, pricedAs: 'openai:gpt-4.1', latencyMs: 40 }),
    execute: scriptedModel({
      name: `${name}-execute`,
      script,
      pricedAs: 'openai:gpt-4.1-mini',
      latencyMs: 40,
    }),
  };
}
