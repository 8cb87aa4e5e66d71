import { DelegateBackoff, handleWhen, retry as retryPolicy } from 'cockatiel';
import {
  classifyError,
  RetriesExhaustedError,
  type ErrorDisposition,
} from '../router/handler.errors';
import { type Middleware } from '../router/handler';

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
  /** Decides what is retried; permanent errors are given up at once, deferred ones pass through. */
  classify?: (error: unknown) => ErrorDisposition;
  /** Overrides per message type (e.g. payments retry longer). */
  perType?: Readonly<Record<string, Omit<RetryOptions, 'perType' | 'classify'>>>;
  /** Called before each retry (metrics, logs). */
  onRetry?: (event: {
    handler: string;
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
  const classify = options.classify ?? classifyError;
  return (next, info) => {
    const build = (settings: Omit<RetryOptions, 'perType' | 'classify'>) => {
      const maxAttempts = Math.max(1, settings.maxAttempts ?? 3);
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
    const policies = new Map<string, ReturnType<typeof build>>();
    const policyFor = (type: string) => {
      let entry = policies.get(type);
      if (!entry) {
        entry = build({ ...options, ...options.perType?.[type] });
        policies.set(type, entry);
        if (options.onRetry) {
          entry.policy.onRetry((event) => {
            const error = 'error' in event ? event.error : undefined;
            options.onRetry!({
              handler: info.name,
              type,
              attempt: event.attempt,
              delayMs: event.delay,
              error,
            });
          });
        }
      }
      return entry;
    };
    return async (delivery) => {
      const { policy, maxAttempts } = policyFor(delivery.envelope.type);
      let attempts = 0;
      try {
        return await policy.execute(() => {
          attempts++;
          return next(delivery);
        });
      } catch (error) {
        if (classify(error) === 'transient' && attempts >= maxAttempts)
          throw new RetriesExhaustedError(attempts, error);
        throw error;
      }
    };
  };
}
