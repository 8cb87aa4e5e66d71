import { shownValue } from '../config/shown-value';
/**
 * Checks the address a connection manager is given before any client is built: a missing one
 * would otherwise make ioredis connect to localhost:6379 (possibly the wrong server) and fail
 * later with "Connection is closed", naming nothing.
 * @throws TypeError naming the function, the option and the expected form
 */
export function checkUrl(
  owner: string,
  option: string,
  value: unknown,
  form: RegExp,
  expected: string,
): void {
  if (typeof value !== 'string' || !form.test(value)) {
    const given = typeof value === 'string' ? 'a string of another form' : String(value);
    throw new TypeError(`${owner}: options.${option} must be a ${expected} URL, got ${given}`);
  }
}

/**
 * Checks a count or a number of milliseconds a connection manager hands its driver, when given:
 * a positive integer, at most `max`. The drivers take a NaN silently (mongodb: a pool that never
 * opens a connection, so open() waits for ever; ioredis: every command timed out at once) or
 * throw it where no caller can catch it (ioredis' connect timeout), and the MongoDB driver's own
 * refusal was reported as a fault of the URI.
 * @throws TypeError naming the function, the option and the value given
 */
export function checkPositiveInteger(
  owner: string,
  option: string,
  value: unknown,
  max: number = Number.MAX_SAFE_INTEGER,
): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max)
    throw new TypeError(
      `${owner}: options.${option} must be a positive integer` +
        `${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, got ${shownValue(value)}`,
    );
}
