import { shownValue } from '../config/shown-value';

/**
 * Checks a checkpoint's name before a store reads or writes anything: a non-empty string.
 * Every CheckpointStore's `load`, `save` and `reset` call it, so a name MongoDB cannot keep
 * ('' is a missing required field there) is refused alike on every backend.
 * @throws TypeError naming `name` and the value given
 */
export function checkCheckpointName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`checkpoint name must be a non-empty string, got ${shownValue(name)}`);
}

/**
 * Checks a position before a store saves it: a non-negative safe integer (a position of the
 * global log). Every CheckpointStore's `save` calls it, so -5 (kept by MongoDB, ignored by the
 * others) or NaN (which stuck the in-memory checkpoint for good) is refused alike everywhere.
 * @throws TypeError when `position` is not a number, RangeError when it is not a non-negative
 *   safe integer; both name `position` and the value given
 */
export function checkCheckpointPosition(position: unknown): asserts position is number {
  if (typeof position !== 'number')
    throw new TypeError(`position must be ${NON_NEGATIVE}, got ${shownValue(position)}`);
  if (!Number.isSafeInteger(position) || position < 0)
    throw new RangeError(`position must be ${NON_NEGATIVE}, got ${position}`);
}

/**
 * Checks a position a store read back before `load` returns it. `save` only ever writes a
 * non-negative safe integer, so anything else was written by hand or by another program: NaN
 * or a string taken for a position would fail every reader of the checkpoint later, on an
 * error that names neither (a review, session 40). Redis stores pass the field's digits as a
 * number, and anything else as the string it holds.
 * @param where who read it and from where, e.g. `RedisCheckpointStore: the field "x" of the hash "y"`
 * @throws TypeError when `stored` is not a number, RangeError when it is not a non-negative
 *   safe integer; both say `where`, the value and what a position must be
 */
export function checkStoredPosition(stored: unknown, where: string): number {
  if (typeof stored === 'number' && Number.isSafeInteger(stored) && stored >= 0) return stored;
  const message = `${where} holds ${shownValue(stored)}, not a checkpoint position (${NON_NEGATIVE}): set it to the position to resume from, or remove it to start again from 0`;
  throw typeof stored === 'number' ? new RangeError(message) : new TypeError(message);
}

const NON_NEGATIVE = `a non-negative integer (at most ${Number.MAX_SAFE_INTEGER})`;
