import { defineTool } from '@plainloop/agent';
import { z } from 'zod';

const buyingSignals = ['pricing', 'demo', 'trial', 'contract', 'budget', 'seats', 'migrate', 'buy'];

/** Scores a lead from 0 to 100 with a fixed rubric, and says which parts of the rubric it met. */
export const scoreLead = defineTool({
  name: 'score_lead',
  description: 'Score a sales lead from company size, industry fit and buying intent in their message.',
  input: z.object({
    employees: z.int().min(0),
    industry: z.string(),
    message: z.string(),
  }),
  timeoutMs: 5_000,
  idempotent: true,
  run({ employees, industry, message }) {
    const reasons: string[] = [];
    let score = 0;
    if (employees >= 200) {
      score += 40;
      reasons.push('company has 200+ employees');
    } else if (employees >= 50) {
      score += 20;
      reasons.push('company has 50+ employees');
    }
    if (['logistics', 'software', 'manufacturing'].includes(industry)) {
      score += 20;
      reasons.push(`${industry} is a target industry`);
    }
    const signals = buyingSignals.filter((signal) => message.toLowerCase().includes(signal));
    score += Math.min(40, signals.length * 20);
    if (signals.length > 0) reasons.push(`buying signals: ${signals.join(', ')}`);
    return { score, reasons };
  },
});
