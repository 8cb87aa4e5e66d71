import { shownValue } from '../config/shown-value';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker as breakerPolicy,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { type Middleware } from '../router/handler';
import { classifyError, DeferredError, type ErrorDisposition } from '../router/handler.errors';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the circuit: a positive integer. Default 5. */
  failureThreshold?: number;
  /**
   * How long the circuit stays open before one trial call (half-open): a non-negative finite
   * number of ms. Default 10 s.
   */
  halfOpenAfterMs?: number;
  /** Shared registry to read states from (metrics, health). */
  registry?: BreakerRegistry;
  /**
   * Which errors count against the breaker (the transient ones). Default `classifyError`; give
   * it the same function as retry's and deadLetter's `classify` (CqrsCoreModule does).
   */
  classify?: (error: unknown) => ErrorDisposition;
}

/**
 * The state of every handler's breaker, for /metrics and /health/ready. A breaker that has
 * been open for its `halfOpenAfterMs` is reported half-open (the next delivery is its trial
 * call): cockatiel changes the state only when the handler is called, so a handler that got no
 * more deliveries was reported open for ever, its probe failing and its gauge at 2.
 */
export class BreakerRegistry {
  private readonly breakers = new Map<string, Watched>();
  private readonly listeners: ((handler: string, state: BreakerState) => void)[] = [];

  /**
   * Listeners hear the breaker's current state at once (closed), then every change, including
   * the change to half-open once it has been open for `halfOpenAfterMs` (default: only when
   * the policy itself half-opens, on its next call).
   */
  register(handler: string, policy: CircuitBreakerPolicy, halfOpenAfterMs?: number): void {
    const watched: Watched = { policy, halfOpenAfterMs, reported: toBreakerState(policy.state) };
    clearTimeout(this.breakers.get(handler)?.timer);
    this.breakers.set(handler, watched);
    for (const listener of this.listeners) listener(handler, watched.reported);
    policy.onStateChange((state) => {
      clearTimeout(watched.timer);
      watched.timer = undefined;
      watched.openedAt = state === CircuitState.Open ? Date.now() : undefined;
      if (watched.openedAt !== undefined && halfOpenAfterMs !== undefined)
        this.reportHalfOpen(handler, watched, halfOpenAfterMs);
      this.report(handler, watched);
    });
  }

  /**
   * Reports the half-open state once the breaker has been open for `inMs`, by Date.now() (the
   * clock cockatiel and stateOf go by). A timer that fires before that clock got there (up to a
   * millisecond early, or the wall clock stepped back) waits for the rest: reported then, the
   * breaker still counted as open, and no later change came without a delivery.
   */
  private reportHalfOpen(handler: string, watched: Watched, inMs: number): void {
    // Unref'd: a breaker must not keep the process alive.
    watched.timer = setTimeout(() => {
      watched.timer = undefined;
      if (watched.openedAt === undefined) return;
      const rest = watched.openedAt + (watched.halfOpenAfterMs ?? 0) - Date.now();
      if (rest > 0) return this.reportHalfOpen(handler, watched, Math.max(1, Math.ceil(rest)));
      this.report(handler, watched);
    }, inMs);
    watched.timer.unref?.();
  }

  states(): Record<string, BreakerState> {
    const now = Date.now();
    return Object.fromEntries(
      [...this.breakers].map(([handler, watched]) => [handler, stateOf(watched, now)]),
    );
  }

  /** `listener` hears the current state of each breaker registered so far, then every change. */
  onStateChange(listener: (handler: string, state: BreakerState) => void): void {
    this.listeners.push(listener);
    for (const [handler, state] of Object.entries(this.states())) listener(handler, state);
  }

  private report(handler: string, watched: Watched): void {
    const state = stateOf(watched, Date.now());
    if (state === watched.reported) return;
    watched.reported = state;
    for (const listener of this.listeners) listener(handler, state);
  }
}

interface Watched {
  readonly policy: CircuitBreakerPolicy;
  readonly halfOpenAfterMs: number | undefined;
  /** When the policy last opened (Open, not Isolated). */
  openedAt?: number;
  /** Tells the listeners of the half-open state when halfOpenAfterMs has passed. */
  timer?: ReturnType<typeof setTimeout>;
  /** The state the listeners heard last. */
  reported: BreakerState;
}

/** The policy's state, half-open once it has been open for halfOpenAfterMs. */
function stateOf(watched: Watched, now: number): BreakerState {
  const { policy, openedAt, halfOpenAfterMs } = watched;
  if (
    policy.state === CircuitState.Open &&
    openedAt !== undefined &&
    halfOpenAfterMs !== undefined &&
    now - openedAt >= halfOpenAfterMs
  )
    return 'half-open';
  return toBreakerState(policy.state);
}

function toBreakerState(state: CircuitState): BreakerState {
  if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'closed';
}

/**
 * Refuses settings a breaker cannot honour (ADR 013), naming them: a `failureThreshold` of NaN
 * (a `Number(env)` of nothing) is never reached, so the circuit never opened; a
 * `halfOpenAfterMs` of NaN or below 0 half-opened it at once, every delivery still reaching the
 * failing handler.
 * @throws RangeError naming the setting and the value
 */
function checkBreakerSettings({ failureThreshold, halfOpenAfterMs }: CircuitBreakerOptions): void {
  if (
    failureThreshold !== undefined &&
    (!Number.isSafeInteger(failureThreshold) || failureThreshold < 1)
  )
    throw new RangeError(
      `circuitBreaker: failureThreshold must be a positive integer (consecutive failures), got ${shownValue(failureThreshold)}`,
    );
  if (halfOpenAfterMs !== undefined && !(Number.isFinite(halfOpenAfterMs) && halfOpenAfterMs >= 0))
    throw new RangeError(
      `circuitBreaker: halfOpenAfterMs must be a non-negative number of milliseconds, got ${shownValue(halfOpenAfterMs)}`,
    );
}

/**
 * One circuit breaker per handler (cockatiel): after `failureThreshold` consecutive transient
 * failures the handler is not called for `halfOpenAfterMs`; deliveries meanwhile fail with a
 * DeferredError, so they are neither retried in process nor dead-lettered — the transport
 * redelivers them later. Permanent errors do not count against the breaker. Place it INSIDE retry.
 * @throws RangeError at once (at start-up, not per message) naming `failureThreshold` when it is
 *   not a positive integer, or `halfOpenAfterMs` when it is not a non-negative finite number
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): Middleware {
  checkBreakerSettings(options);
  const classify = options.classify ?? classifyError;
  return (next, info) => {
    const halfOpenAfter = options.halfOpenAfterMs ?? 10_000;
    const policy = breakerPolicy(
      handleWhen((error) => classify(error) === 'transient'),
      { halfOpenAfter, breaker: new ConsecutiveBreaker(options.failureThreshold ?? 5) },
    );
    options.registry?.register(info.name, policy, halfOpenAfter);
    return async (delivery) => {
      try {
        return await policy.execute(() => next(delivery));
      } catch (error) {
        if (error instanceof BrokenCircuitError)
          throw new DeferredError(`circuit of ${info.name} is open`, { cause: error });
        throw error;
      }
    };
  };
}
