import { z } from 'zod';

/**
 * The shape every failure takes once it leaves the code that saw it: in a tool result fed back to the
 * model, in a run's result, in an API problem body. Never a stack trace.
 */
export const StructuredError = z.object({
  code: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
});
export type StructuredError = z.infer<typeof StructuredError>;
