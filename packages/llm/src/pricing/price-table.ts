import type { ModelRef, Usage } from '@plainloop/contracts';
import { z } from 'zod';
import prices from './prices.json' with { type: 'json' };

const Price = z.object({
  input: z.number().min(0),
  cachedInput: z.number().min(0).optional(),
  output: z.number().min(0),
});
export type Price = z.infer<typeof Price>;

const PriceTable = z.object({ asOf: z.string(), models: z.record(z.string(), Price) });
const table = PriceTable.parse(prices);

/** The date the built-in prices were collected; shown next to costs so nobody mistakes them for a bill. */
export const pricesAsOf = table.asOf;

const datedSnapshot = /-\d{4}-\d{2}-\d{2}$|-\d{8}$/;

/**
 * The price of a model, or undefined when the table does not know it. A dated snapshot
 * (`gpt-4.1-mini-2025-04-14`, `claude-sonnet-4-20250514`) is priced as its base model.
 */
export function priceOf(model: ModelRef): Price | undefined {
  return table.models[model] ?? table.models[model.replace(datedSnapshot, '')];
}

/** Cost in USD: uncached input, cached input (at the cache price) and output, each at its own rate. */
export function costUsd(usage: Usage, price: Price): number {
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  const perMillion =
    uncached * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output;
  return perMillion / 1_000_000;
}
