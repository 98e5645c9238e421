import { z } from 'zod';

/** Tenant and agent names go into Redis keys and metric labels, so they are kept to a safe alphabet. */
export const TenantId = z
  .string()
  .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'a tenant id is 1-64 letters, digits, _ . or -');
export const AgentName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,63}$/,
    'an agent name is 1-64 lower-case letters, digits, _ or -, starting with a letter',
  );

/**
 * The most iterations any agent or run may allow. High enough for long research and coding loops (the
 * benchmarks run 200-step runs), low enough that a typo cannot make a run loop for a day; the cost and
 * token limits are what should stop a long run.
 */
export const maxIterationsCeiling = 1_000;

/** Limits a producer may set on one run. They can only tighten the agent's own limits, never loosen them. */
export const RunLimits = z.strictObject({
  maxIterations: z.int().min(1).max(maxIterationsCeiling).optional(),
  maxCostUsd: z.number().positive().max(10_000).optional(),
  maxTokens: z.int().positive().max(100_000_000).optional(),
});
export type RunLimits = z.infer<typeof RunLimits>;

/**
 * Where a run's result goes when it ends. Only http(s); whether the target may be a private address is
 * the deployment's call (the webhooks package checks it at submit and again, resolved, at delivery).
 */
export const RunWebhook = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'a webhook url is an absolute http(s) URL' })
    .max(2_048, 'a webhook url is at most 2048 characters'),
});
export type RunWebhook = z.infer<typeof RunWebhook>;

/** How deep a run's input may nest: far beyond any real input, far below what recursion survives. */
export const maxInputDepth = 64;

/** The nesting depth of a JSON value, counted without recursion so no input can overflow the stack. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Whether a JSON value has an object key `__proto__` anywhere. Such a key cannot survive being copied
 * into a plain object (it sets the prototype instead), so the input would silently lose it; it is
 * refused instead, and prototype pollution through an input is ruled out with it.
 */
export function hasProtoKey(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object') continue;
    if (!Array.isArray(current) && Object.hasOwn(current, '__proto__')) return true;
    for (const child of Object.values(current)) stack.push(child);
  }
  return false;
}

/**
 * What a producer sends to start a run (over HTTP, or as BullMQ job data). `input` is checked here only
 * for presence; its shape is the agent's business (its zod input schema in the worker, its published
 * JSON Schema in the API).
 */
export const RunRequest = z.strictObject({
  agent: AgentName,
  // Checked before z.json() copies the value, since the copy would already have lost the key.
  input: z
    .unknown()
    .refine((input) => !hasProtoKey(input), 'input may not use the object key __proto__')
    .pipe(
      z
        .json()
        .refine(
          (input) => jsonDepth(input) <= maxInputDepth,
          `input may nest at most ${maxInputDepth} levels deep`,
        ),
    ),
  tenantId: TenantId.default('default'),
  /** Runs with the same thread share a conversation. It goes into Redis keys, so a safe alphabet. */
  threadId: z
    .string()
    .regex(/^[a-zA-Z0-9_.:@-]{1,256}$/, 'a thread id is 1-256 letters, digits, _ . : @ or -')
    .optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
  limits: RunLimits.optional(),
  metadata: z.record(z.string().max(64), z.string().max(512)).optional(),
  /** Where the run's result is POSTed when it ends (signed, retried, from its own queue). */
  webhook: RunWebhook.optional(),
});
export type RunRequest = z.infer<typeof RunRequest>;
export type RunRequestInput = z.input<typeof RunRequest>;
