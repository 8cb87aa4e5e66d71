import { shownValue } from '../config/shown-value';
import { DelegateBackoff, handleWhen, retry as retryPolicy } from 'cockatiel';
import {
  classifyError,
  recordAttempts,
  RetriesExhaustedError,
  type ErrorDisposition,
} from '../router/handler.errors';
import { type Middleware } from '../router/handler';
import { callHook } from '../messages/hook.call';

export interface RetryOptions {
  /** Total attempts including the first. Default 3 (S0-9 max retries). */
  maxAttempts?: number;
  /** 'fixed': always initialDelayMs; 'linear': initialDelayMs × n; 'exponential': initialDelayMs × 2^(n-1). Default exponential. */
  backoff?: 'fixed' | 'linear' | 'exponential';
  /** Default 100 ms. */
  initialDelayMs?: number;
  /** Upper bound of any delay. Default 10 s. */
  maxDelayMs?: number;
  /** Full jitter: the delay is drawn uniformly from [delay × (1 - jitter), delay]. 0..1, default 0.5. */
  jitter?: number;
  /**
   * Decides what is retried; permanent errors are given up at once, deferred ones pass through.
   * Give deadLetter and circuitBreaker the same function (CqrsCoreModule does): deadLetter
   * stores only what it judges permanent or what retry gave up on after its attempts.
   */
  classify?: (error: unknown) => ErrorDisposition;
  /** Overrides per message type (e.g. payments retry longer). */
  perType?: Readonly<Record<string, Omit<RetryOptions, 'perType' | 'classify'>>>;
  /**
   * Called before each retry (metrics, logs); not awaited. What it throws, or the promise it
   * returns rejects with, is ignored.
   */
  onRetry?: (event: {
    handler: string;
    /** The topic the message was delivered from. */
    topic: string;
    type: string;
    attempt: number;
    delayMs: number;
    error: unknown;
  }) => void;
}

/** The delay before retry number `attempt` (1-based), before jitter. */
export function backoffDelay(
  options: Pick<RetryOptions, 'backoff' | 'initialDelayMs' | 'maxDelayMs'>,
  attempt: number,
): number {
  const initial = options.initialDelayMs ?? 100;
  const raw =
    options.backoff === 'fixed'
      ? initial
      : options.backoff === 'linear'
        ? initial * attempt
        : initial * 2 ** (attempt - 1);
  return Math.min(raw, options.maxDelayMs ?? 10_000);
}

function jittered(delay: number, jitter: number): number {
  return delay * (1 - jitter * Math.random());
}

/**
 * Retries a failing handler in process (cockatiel retry policy), per handler and per message
 * type. Permanent errors (PermanentError, validation, decoding) skip the retries; deferred
 * errors (open circuit, …) pass straight through so the transport redelivers later. When the
 * attempts are spent it throws RetriesExhaustedError for the dead-letter middleware.
 */
export function retry(options: RetryOptions = {}): Middleware {
  checkRetrySettings(options, 'retry');
  for (const [type, settings] of Object.entries(options.perType ?? {}))
    checkRetrySettings(settings, `retry perType[${JSON.stringify(type)}]`);
  const classify = options.classify ?? classifyError;
  return (next, info) => {
    const build = (settings: Omit<RetryOptions, 'perType' | 'classify'>) => {
      const maxAttempts = settings.maxAttempts ?? 3;
      const policy = retryPolicy(
        handleWhen((error) => classify(error) === 'transient'),
        {
          maxAttempts: maxAttempts - 1,
          backoff: new DelegateBackoff((context: { attempt: number }) =>
            jittered(backoffDelay(settings, context.attempt), settings.jitter ?? 0.5),
          ),
        },
      );
      return { policy, maxAttempts };
    };
    // One per topic and type (a handler reads few of each): cockatiel's retry event names
    // neither the call nor its delivery, so the policy's own listener knows the topic.
    const policies = new Map<string, ReturnType<typeof build>>();
    const policyFor = (topic: string, type: string) => {
      const key = `${topic}\u0000${type}`;
      let entry = policies.get(key);
      if (!entry) {
        entry = build({ ...options, ...options.perType?.[type] });
        policies.set(key, entry);
        if (options.onRetry) {
          entry.policy.onRetry((event) => {
            const error = 'error' in event ? event.error : undefined;
            // A failing hook (a metric or log sink) must not fail the handling: cockatiel calls
            // it inside its retry loop, where its error replaced the handler's and ended it.
            callHook(() =>
              options.onRetry!({
                handler: info.name,
                topic,
                type,
                attempt: event.attempt,
                delayMs: event.delay,
                error,
              }),
            );
          });
        }
      }
      return entry;
    };
    return async (delivery) => {
      const { policy, maxAttempts } = policyFor(delivery.topic, delivery.envelope.type);
      let attempts = 0;
      try {
        return await policy.execute(() => {
          attempts++;
          return next(delivery);
        });
      } catch (error) {
        if (classify(error) === 'transient' && attempts >= maxAttempts)
          throw new RetriesExhaustedError(attempts, error);
        // A permanent error after transient ones: its dead letter counts every attempt.
        recordAttempts(error, attempts);
        throw error;
      }
    };
  };
}

/**
 * Refuses settings retry cannot honour (ADR 013), naming them: a `maxAttempts` of NaN (a
 * `Number(env)` of nothing) never ended the attempts, so nothing was dead-lettered; a jitter
 * above 1 made delays negative; a misspelt backoff meant exponential.
 * @throws RangeError or TypeError naming the setting
 */
function checkRetrySettings(settings: Omit<RetryOptions, 'perType'>, where: string): void {
  const { maxAttempts, initialDelayMs, maxDelayMs, jitter, backoff } = settings;
  if (maxAttempts !== undefined && (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1))
    throw new RangeError(
      `${where}: maxAttempts must be a positive integer (attempts including the first), got ${shownValue(maxAttempts)}`,
    );
  for (const [name, value] of [
    ['initialDelayMs', initialDelayMs],
    ['maxDelayMs', maxDelayMs],
  ] as const)
    if (value !== undefined && !(Number.isFinite(value) && value >= 0))
      throw new RangeError(
        `${where}: ${name} must be a non-negative number of milliseconds, got ${shownValue(value)}`,
      );
  // typeof first: a string from the environment passed the range check ('0.5' >= 0), and an
  // empty one (a variable left unset) then counted as 0: no jitter, retries all at once.
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)))
    throw new RangeError(`${where}: jitter must be from 0 to 1, got ${shownValue(jitter)}`);
  if (backoff !== undefined && !['fixed', 'linear', 'exponential'].includes(backoff))
    throw new TypeError(
      `${where}: backoff must be 'fixed', 'linear' or 'exponential', got ${JSON.stringify(backoff)}`,
    );
}
