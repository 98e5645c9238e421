/**
 * How a run's state is kept in its Redis hash: one field per part of `RunState` (each a JSON value),
 * besides `version` and `writeId`, which the checkpoint script owns. A checkpoint then sends only the
 * parts that changed (a step's answer, its totals), not the whole state as one JSON document.
 */
import { RunState } from '@plainloop/contracts';

/** Fields of the run hash that are not parts of the state. */
const ownFields = new Set(['version', 'writeId']);

/** Every part of `state` as field/value pairs (the state a run is created with). */
export function stateFields(state: Omit<RunState, 'version'> & { version?: number }): string[] {
  const pairs: string[] = [];
  for (const field in state) {
    if (ownFields.has(field)) continue;
    const value = state[field as keyof typeof state];
    if (value !== undefined) pairs.push(field, JSON.stringify(value));
  }
  return pairs;
}

/**
 * The parts `next` changes from `previous`: set (field/value pairs) and deleted (fields). Parts are
 * compared by identity: the step machine builds the next state by spreading the previous one, so a
 * part it did not touch is the same object, and an unchanged part costs no serialisation at all.
 */
export function changedFields(
  previous: Omit<RunState, 'version'>,
  next: Omit<RunState, 'version'>,
): { set: string[]; deleted: string[] } {
  const set: string[] = [];
  const deleted: string[] = [];
  for (const field in next) {
    if (ownFields.has(field)) continue;
    const value = next[field as keyof typeof next];
    if (value === previous[field as keyof typeof previous]) continue;
    if (value === undefined) deleted.push(field);
    else set.push(field, JSON.stringify(value));
  }
  for (const field in previous) {
    if (ownFields.has(field) || Object.hasOwn(next, field)) continue;
    if (previous[field as keyof typeof previous] !== undefined) deleted.push(field);
  }
  return { set, deleted };
}

/** The state stored as field/value pairs (HGETALL's reply), checked against the contract. */
export function stateFromFields(pairs: readonly string[]): RunState {
  const parts: Record<string, unknown> = {};
  for (let index = 0; index < pairs.length; index += 2) {
    const field = pairs[index] as string;
    const value = pairs[index + 1] as string;
    if (field === 'version') parts.version = Number(value);
    else if (!ownFields.has(field)) parts[field] = JSON.parse(value);
  }
  return RunState.parse(parts);
}
