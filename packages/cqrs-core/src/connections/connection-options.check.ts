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
