/**
 * Calls a caller's hook (a metric, log or report sink: onRetry, onError, onClaimLost) so that
 * its failure never becomes ours: what it throws, or the promise it returns rejects with, goes
 * to `onFailure` (default: ignored). Hooks are typed as returning void, so an `async` one is
 * accepted by the compiler; its rejection, left alone, is one nobody handles, and Node ends the
 * process on that. The promise is not awaited: the caller must not wait for a hook that never
 * settles.
 */
export function callHook(
  hook: () => unknown,
  onFailure: (error: unknown) => void = () => undefined,
): void {
  try {
    const returned = hook();
    if (isThenable(returned)) returned.then(undefined, onFailure);
  } catch (error) {
    onFailure(error);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
