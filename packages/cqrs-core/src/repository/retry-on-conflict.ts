import { ExponentialBackoff, decorrelatedJitterGenerator, handleType, retry } from 'cockatiel';
import { shownValue } from '../config/shown-value';
import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { callHook } from '../messages/hook.call';

export interface RetryOnConflictOptions {
  /** Total attempts, the first one included. Default 5. 1 disables retrying. */
  maxAttempts?: number;
  /** First backoff delay in ms. Default 10. */
  initialDelayMs?: number;
  /** Upper bound of one delay in ms. Default 1000. */
  maxDelayMs?: number;
  /**
   * Called before each backoff; a metric or log hook, not awaited. What it throws, or the
   * promise it returns rejects with, is ignored.
   */
  onRetry?: (info: { attempt: number; delayMs: number; error: ConcurrencyConflictError }) => void;
  /** Aborting stops further attempts; the promise rejects with the last conflict or an abort error. */
  signal?: AbortSignal;
}

/**
 * Runs `operation` and, when it throws ConcurrencyConflictError, runs it again after a jittered
 * exponential backoff (cockatiel's decorrelated jitter), at most `maxAttempts` times in all.
 * Every other error fails at once. When the attempts are exhausted it throws a
 * ConcurrencyConflictError with the last conflict's stream, expected and actual version, its
 * `attempts`, a message saying it gave up after them, and the last conflict as its `cause`.
 *
 * A conflict with `overlap` set is not retried either: it is thrown as it is, at once. The
 * expected version held there; what conflicts is the batch, some of whose own messageIds are
 * stored already (not as this batch). Those ids are the caller's (a command's
 * `commandEventId`s, ids of your own): a new read -> decide -> append sends the same ones again
 * and conflicts the same way, so the attempts and their backoff would only delay that error.
 *
 * `operation` must redo the whole read -> decide -> append cycle (it receives the 1-based
 * attempt number): retrying only the append with the same expected version would conflict
 * again, and retrying it with a new expected version would skip the decision — lost update.
 * @throws RangeError before the first attempt when `maxAttempts` is no integer >= 1, or
 *   `initialDelayMs` / `maxDelayMs` no finite, non-negative number of milliseconds
 */
export async function retryOnConflict<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOnConflictOptions = {},
): Promise<T> {
  checkRetryOnConflictOptions(options);
  const maxAttempts = options.maxAttempts ?? 5;
  // An overlap is the batch's own ids, not someone else's append: another decision with the
  // same ids conflicts again (see above).
  const retriable = handleType(ConcurrencyConflictError, (error) => error.overlap !== true);
  const policy = retry(retriable, {
    // cockatiel counts retries, not attempts.
    maxAttempts: maxAttempts - 1,
    backoff: new ExponentialBackoff({
      generator: decorrelatedJitterGenerator,
      initialDelay: options.initialDelayMs ?? 10,
      maxDelay: options.maxDelayMs ?? 1_000,
    }),
  });
  const { onRetry } = options;
  const listener = onRetry
    ? policy.onRetry((event) => {
        if ('error' in event && event.error instanceof ConcurrencyConflictError) {
          // A failing hook (a metric or log sink) must not fail the command: cockatiel calls
          // it inside its retry loop, where its error replaced the conflict and ended it.
          const { error } = event;
          callHook(() => onRetry({ attempt: event.attempt, delayMs: event.delay, error }));
        }
      })
    : undefined;
  let attempts = 0;
  try {
    return await policy.execute(({ attempt }) => {
      attempts = attempt + 1;
      return operation(attempts);
    }, options.signal);
  } catch (error) {
    if (!(error instanceof ConcurrencyConflictError) || error.overlap || attempts < maxAttempts)
      throw error;
    throw new ConcurrencyConflictError(error.streamId, error.expected, error.actual, {
      attempts,
      cause: error,
    });
  } finally {
    listener?.dispose();
  }
}

/**
 * What retryOnConflict checks before its first attempt, for code that takes the options once
 * and retries later (commandHandler checks them when it is built, not at the first conflict).
 * @throws RangeError when `maxAttempts` is no integer >= 1, or `initialDelayMs` /
 *   `maxDelayMs` no finite, non-negative number of milliseconds, naming the option and value
 */
export function checkRetryOnConflictOptions(options: RetryOnConflictOptions = {}): void {
  checkDelays(options);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${shownValue(maxAttempts)}`);
}

/**
 * A NaN (a `Number(env)` of nothing) or negative delay became no delay: conflicts were retried
 * back to back, each attempt more load on the stream they contend for.
 * @throws RangeError naming the option and the value given
 */
function checkDelays(options: RetryOnConflictOptions): void {
  for (const name of ['initialDelayMs', 'maxDelayMs'] as const) {
    const value: unknown = options[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0))
      throw new RangeError(
        `${name} must be a non-negative number of milliseconds, got ${shownValue(value)}`,
      );
  }
}
