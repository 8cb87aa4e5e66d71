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

const NON_NEGATIVE = `a non-negative integer (at most ${Number.MAX_SAFE_INTEGER})`;
