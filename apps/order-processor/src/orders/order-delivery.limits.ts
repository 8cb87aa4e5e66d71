import { backoffDelay, whenValid } from '@causeway/cqrs-core';
import { z } from 'zod';

/** What bounds how long the order consumer runs one delivery of an order. */
export interface OrderDeliveryLimits {
  /** The stores' share of one attempt (EVENT_TIMEOUT_MS). */
  eventTimeoutMs: number;
  /** The pause before each step after STARTED (ORDER_STEP_DELAY_MS). */
  stepDelayMs: number;
  /** Attempts in process before the dead letters (MAX_RETRIES + 1). */
  maxAttempts: number;
}

/** One attempt's time limit (the consumer's timeout): five steps' stores and their pauses. */
export function orderAttemptTimeoutMs(limits: Omit<OrderDeliveryLimits, 'maxAttempts'>): number {
  return limits.eventTimeoutMs + 5 * limits.stepDelayMs;
}

/**
 * The longest a delivery of an order stays in the consumer before it is done or dead-lettered:
 * every attempt at its time limit, and the retry backoffs between them (the retry middleware's
 * defaults, before jitter, which only shortens them). An order is alive that long with no step
 * stored, so retention must not take it for abandoned before.
 */
export function orderDeliveryLimitMs(limits: OrderDeliveryLimits): number {
  let total = limits.maxAttempts * orderAttemptTimeoutMs(limits);
  for (let retry = 1; retry < limits.maxAttempts; retry++) {
    const delay = backoffDelay({}, retry);
    // At its cap from here on (the default backoff never comes down): the rest at once, so that a
    // MAX_RETRIES in the billions (valid) takes no more steps than one of 10 (it looped for ever).
    if (delay === backoffDelay({}, retry + 1)) return total + delay * (limits.maxAttempts - retry);
    total += delay;
  }
  return total;
}

/**
 * The start-up check of PROGRESS_HISTORY_TTL_MS against the consumer's limits, for a
 * configuration holding it and ORDER_STEP_DELAY_MS (`.check(…)`). `limitsOf` gives the other
 * limits from the app's settings and names them (`settings`). Retention ends an unfinished task
 * FAILED "expired" once its last event is a TTL old, so with a TTL a delivery can outlast (step
 * pauses, timeouts, retries) every running order was ended: refused, naming the setting and the
 * bound. It runs even when other settings are bad, so that the error names every one, but only
 * when the settings it reads are valid: `readFrom` names those `limitsOf` reads. A bad one (an
 * EVENT_TIMEOUT_MS past the longest timer) was named, then again in this bound.
 */
export function historyTtlAboveOrderDelivery(
  limitsOf: (config: Readonly<Record<string, unknown>>) => {
    eventTimeoutMs: unknown;
    maxAttempts: unknown;
    settings: string;
  },
  readFrom: readonly string[] = [],
) {
  return z.superRefine<Record<string, unknown>>(
    (config, context) => {
      const { PROGRESS_HISTORY_TTL_MS: ttl, ORDER_STEP_DELAY_MS: stepDelayMs } = config;
      const { eventTimeoutMs, maxAttempts, settings } = limitsOf(config);
      if (![ttl, stepDelayMs, eventTimeoutMs, maxAttempts].every(Number.isFinite)) return;
      const limits = { eventTimeoutMs, stepDelayMs, maxAttempts } as OrderDeliveryLimits;
      const bound = orderDeliveryLimitMs(limits);
      if ((ttl as number) > bound) return;
      context.addIssue({
        code: 'custom',
        path: ['PROGRESS_HISTORY_TTL_MS'],
        message:
          `must be more than ${bound} ms, the longest an order's delivery may run ` +
          `(${settings}, ORDER_STEP_DELAY_MS ${limits.stepDelayMs}: ${limits.maxAttempts} ` +
          `attempts of ${orderAttemptTimeoutMs(limits)} ms and their retry backoffs), or ` +
          `retention ends running orders FAILED "expired"`,
      });
    },
    whenValid('PROGRESS_HISTORY_TTL_MS', 'ORDER_STEP_DELAY_MS', ...readFrom),
  );
}
