import { shownValue } from './shown-value';

/**
 * Checks a duration a store or a lease writes as an expiry: a positive safe integer number of
 * milliseconds. Redis takes nothing else (`PX 1.5` and `PX 0` are errors), so the in-memory
 * backends refuse the same values at the same place instead of working where Redis fails.
 * @throws TypeError when `value` is not a number, RangeError when it is not a positive safe
 *   integer; both name the argument and the value given
 */
export function checkDurationMs(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be ${POSITIVE_MS}, got ${shownValue(value)}`);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`${name} must be ${POSITIVE_MS}, got ${value}`);
}

const POSITIVE_MS = `a positive integer number of milliseconds (at most ${Number.MAX_SAFE_INTEGER})`;
