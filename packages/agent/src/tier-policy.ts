import type { Message, Tier } from '@plainloop/contracts';

export type TierContext = { step: number; turns: readonly Message[] };

/**
 * The default tier choice, a plain function: plan on the first step and after a step that went wrong
 * (a tool error, an invalid call, an answer that did not fit the output schema), execute otherwise.
 */
export function chooseTier({ step, turns }: TierContext): Tier {
  if (step === 0) return 'plan';
  for (let index = turns.length - 1; index >= 0; index -= 1) {
    const message = turns[index];
    if (message === undefined || message.role === 'assistant') break;
    if (message.role === 'tool' && message.isError) return 'plan';
    if (message.role === 'user') return 'plan';
  }
  return 'execute';
}
