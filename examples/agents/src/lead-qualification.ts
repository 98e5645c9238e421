import { defineAgent } from '@plainloop/agent';
import type { ScriptContext, ScriptedReply } from '@plainloop/llm';
import { z } from 'zod';
import { offlineTiers } from './offline-models.ts';
import { lookupCompany } from './tools/lookup-company.ts';
import { scoreLead } from './tools/score-lead.ts';

type Lead = { name: string; email: string; message: string };
type Company = { employees: number; industry: string; name: string };
type Score = { score: number; reasons: string[] };

const hasError = (value: unknown) => typeof value === 'object' && value !== null && 'error' in value;

/** Look the company up, score the lead, decide; an unknown company is an answer too, not a crash. */
function leadQualificationScript({ turn, input, toolResults }: ScriptContext): ScriptedReply {
  const lead = input as Lead;
  const company = toolResults.get('lookup_company');
  if (turn === 0)
    return { toolCalls: [{ name: 'lookup_company', arguments: { domain: lead.email.split('@')[1] ?? '' } }] };
  if (hasError(company)) {
    return {
      text: JSON.stringify({
        qualified: false,
        score: 0,
        reasons: ['company not found'],
        nextStep: 'ask for the company website',
      }),
    };
  }
  const { employees, industry } = company as Company;
  const scored = toolResults.get('score_lead') as Score | undefined;
  if (!scored)
    return { toolCalls: [{ name: 'score_lead', arguments: { employees, industry, message: lead.message } }] };
  const qualified = scored.score >= 60;
  return {
    text: JSON.stringify({
      qualified,
      score: scored.score,
      reasons: scored.reasons,
      nextStep: qualified ? 'book a discovery call this week' : 'add to the nurture sequence',
    }),
  };
}

const offline = offlineTiers('lead-qualification', leadQualificationScript);

export const leadQualification = defineAgent({
  name: 'lead-qualification',
  description: 'Qualifies an inbound sales lead: company lookup, scoring, next step.',
  instructions:
    'You qualify inbound sales leads. Look up the company by the domain of the email, score the lead, ' +
    'then answer with JSON {"qualified": boolean, "score": number, "reasons": string[], "nextStep": string}. ' +
    'A lead is qualified at a score of 60 or more.',
  input: z.object({ name: z.string(), email: z.email(), message: z.string().max(4_000) }),
  output: z.object({
    qualified: z.boolean(),
    score: z.number().min(0).max(100),
    reasons: z.array(z.string()),
    nextStep: z.string(),
  }),
  tools: [lookupCompany, scoreLead],
  models: {
    plan: ['openai:gpt-4.1', offline.plan],
    execute: ['openai:gpt-4.1-mini', offline.execute],
  },
  limits: { maxIterations: 10, maxCostUsd: 0.1 },
});
