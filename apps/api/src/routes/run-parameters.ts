import { z } from 'zod';

export const RunParams = z.object({ runId: z.string().regex(/^run_[a-zA-Z0-9_-]{8,64}$/, 'not a run id') });

export function issuesOf(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}
