import { defineTool, ToolError } from '@plainloop/agent';
import { z } from 'zod';

const companies: Record<string, { name: string; employees: number; industry: string; region: string }> = {
  'northwind.io': { name: 'Northwind', employees: 1_200, industry: 'logistics', region: 'EU' },
  'globex.com': { name: 'Globex', employees: 45_000, industry: 'manufacturing', region: 'US' },
  'initech.dev': { name: 'Initech', employees: 35, industry: 'software', region: 'US' },
  'acme.co': { name: 'Acme', employees: 300, industry: 'retail', region: 'APAC' },
};

/** Looks a company up by its web domain (an offline stand-in for a CRM or enrichment API). */
export const lookupCompany = defineTool({
  name: 'lookup_company',
  description: 'Find firmographics (size, industry, region) of a company by its web domain.',
  input: z.object({ domain: z.string().min(3).describe('e.g. globex.com') }),
  timeoutMs: 5_000,
  idempotent: true,
  run({ domain }) {
    const company = companies[domain.toLowerCase()];
    if (!company) throw new ToolError({ code: 'not_found', message: `no company with the domain ${domain}` });
    return { domain: domain.toLowerCase(), ...company };
  },
});
