import assert from 'node:assert/strict';

/** An error class, optionally with a predicate the error must also satisfy, or a predicate alone. */
export type ErrorExpectation<E extends Error = Error> =
  (abstract new (...args: never[]) => E) | ((error: unknown) => boolean);

/** Fails (an AssertionError saying why) unless `error` meets `expected` (and `check`). */
export function assertErrorMatches<E extends Error>(
  error: unknown,
  expected: ErrorExpectation<E>,
  check?: (error: E) => boolean,
): void {
  if (isErrorClass(expected)) {
    if (!(error instanceof expected))
      assert.fail(`Expected ${expected.name}, got ${describeError(error)}`);
    if (check && !check(error as E))
      assert.fail(`${describeError(error)} did not satisfy the check`);
  } else if (!expected(error)) {
    assert.fail(`${describeError(error)} did not satisfy the predicate`);
  }
}

function isErrorClass(value: unknown): value is abstract new (...args: never[]) => Error {
  return typeof value === 'function' && (value === Error || value.prototype instanceof Error);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : `non-error ${String(error)}`;
}
