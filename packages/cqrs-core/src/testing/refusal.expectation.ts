/** What `promise` rejected with, or undefined when it resolved (for the conformance suites). */
export async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Expects `error` to be a `type` with exactly `message` (ADR 013: mistakes fail loud, alike). */
export function expectRefusal(
  error: unknown,
  type: abstract new (...args: never[]) => Error,
  message: string,
): void {
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toBe(message);
}
