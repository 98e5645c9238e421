/** Payloads longer than this (as JSON) are cut in log lines; the run keeps them whole in Redis. */
export const logPayloadLimit = 2_000;

/**
 * A run's input, a tool's arguments or a model's output as it goes into a log line: as is when short,
 * otherwise its JSON cut at `limit` characters with a marker that says how much was left out, so one
 * huge payload cannot flood the log pipeline.
 */
export function logPayload(value: unknown, limit = logPayloadLimit): unknown {
  const json = JSON.stringify(value);
  if (json === undefined || json.length <= limit) return value;
  return `${json.slice(0, limit)}… [${json.length - limit} more characters not logged]`;
}
