import { z } from 'zod';
import { ModelRef } from './language-model.ts';
import { AgentName, maxIterationsCeiling } from './run-request.ts';
import { ToolDescription } from './tool-spec.ts';

export const AgentLimits = z.object({
  maxIterations: z.int().min(1).max(maxIterationsCeiling),
  maxCostUsd: z.number().positive().optional(),
  maxTokens: z.int().positive().optional(),
});
export type AgentLimits = z.infer<typeof AgentLimits>;

/**
 * What a worker publishes to Redis about each agent it can run, at start-up. The API reads it to reject
 * a run for an unknown agent, or with input that does not fit, before anything is queued.
 */
export const AgentManifest = z.object({
  name: AgentName,
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  tools: z.array(ToolDescription),
  models: z.object({ plan: z.array(ModelRef).min(1), execute: z.array(ModelRef).min(1) }),
  limits: AgentLimits,
  publishedAt: z.number(),
});
export type AgentManifest = z.infer<typeof AgentManifest>;
