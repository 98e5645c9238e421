import { z } from 'zod';

/**
 * What any process may know about a tool without loading its code: the part of the Tool spec that is
 * published in agent manifests and offered to models. The executable part (zod input, `run`) lives in
 * `@plainloop/tools`.
 */
export const ToolDescription = z.object({
  name: z
    .string()
    .regex(
      /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/,
      'tool names are 1-64 letters, digits, _ or -, starting with a letter',
    ),
  description: z.string().min(1),
  /** JSON Schema of the arguments, derived from the tool's zod input schema. */
  inputSchema: z.record(z.string(), z.unknown()),
  timeoutMs: z.int().positive(),
  idempotent: z.boolean(),
  /** A person must approve each call before it runs (the run waits, holding no worker slot). */
  requiresApproval: z.boolean().default(false),
});
export type ToolDescription = z.infer<typeof ToolDescription>;
