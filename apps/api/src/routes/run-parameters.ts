import { TenantId } from '@plainloop/contracts';
import { z } from 'zod';

export const RunParams = z.object({ runId: z.string().regex(/^run_[a-zA-Z0-9_-]{8,64}$/, 'not a run id') });

/** Until API keys decide it, the tenant of a request is a query parameter. */
export const TenantQuery = z.object({ tenantId: TenantId.default('default') });

export function issuesOf(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
}
