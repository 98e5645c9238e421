import type { z } from 'zod';

export type FinalAnswer = { ok: true; output: unknown } | { ok: false; repair: string };

const maxIssues = 5;

/**
 * Checks an answer without tool calls. Without an output schema the text is the output. With one, the
 * text must be JSON that fits it; if not, the model gets one message saying what is wrong and another
 * step to fix it (bounded by the iteration limit).
 */
export function checkFinalAnswer(text: string, schema: z.ZodType | undefined): FinalAnswer {
  if (schema === undefined) return { ok: true, output: text };
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripCodeFence(text));
  } catch {
    return {
      ok: false,
      repair: 'Your final answer must be a single JSON value that fits the output schema; it was not JSON.',
    };
  }
  const checked = schema.safeParse(parsed);
  if (checked.success) return { ok: true, output: checked.data };
  const issues = checked.error.issues
    .slice(0, maxIssues)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return {
    ok: false,
    repair: `Your final answer does not fit the output schema: ${issues.join('; ')}. Answer again with corrected JSON.`,
  };
}

/** Models often wrap JSON in a markdown fence even when asked not to. */
function stripCodeFence(text: string): string {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  return fenced?.[1] ?? text;
}
