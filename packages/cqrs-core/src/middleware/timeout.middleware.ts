import { MAX_TIMER_MS } from '../config/settings.schema';
import { checkDelayMs } from '../event-store/event-store.rules';
import { type Middleware } from '../router/handler';
import { type Delivery } from '../transport/transport.port';

/** A handler did not finish in time. Transient: retried like any other failure. */
export class HandlerTimeoutError extends Error {
  constructor(
    readonly handler: string,
    readonly timeoutMs: number,
    /** The handler was still running when the attempt gave up on it (it ignored the signal). */
    readonly abandoned = false,
  ) {
    super(
      `handler ${handler} did not finish within ${timeoutMs} ms` +
        (abandoned ? ' and did not stop when aborted; it may still be running' : ''),
    );
    this.name = 'HandlerTimeoutError';
  }
}

export interface TimeoutOptions {
  /**
   * How long an attempt whose time is up waits for its handler to stop once `delivery.signal`
   * is aborted. Default: the timeout itself, at most 5 s (an attempt so lasts at most the
   * timeout plus 5 s: keep a transport's claim idle time above that).
   * While it waits, the message is still in hand: no retry of it starts and no later message
   * of its key is handled, so per-key order and one-run-at-a-time hold for handlers that stop
   * within this time. 0 gives up at once.
   */
  graceMs?: number;
}

/**
 * Fails a delivery whose handler takes longer than `timeoutMs` (S0-9: events 10 s, commands
 * 30 s; pass a function to choose per delivery), and aborts the delivery's `signal` with the
 * same HandlerTimeoutError so a handler that passes the signal on stops its work. The signal
 * also follows a `signal` the delivery already carried (an outer timeout).
 *
 * When the time is up the attempt waits up to `graceMs` for the handler to settle, then fails
 * with the HandlerTimeoutError however the handler ended (a handler that returns after the
 * abort may have stopped half way; one that finished its work late is retried like any failed
 * attempt, so handlers must be idempotent, as at-least-once delivery needs anyway).
 * Hazard: JavaScript cannot stop a handler that ignores the signal. After the grace the
 * attempt fails with `abandoned` set while the handler may still run, so a retry of the
 * message, or the next message of its key, can run beside it and its effects may land after
 * theirs: honour the signal where order matters.
 */
export function timeout(
  timeoutMs: number | ((delivery: Delivery) => number) = 10_000,
  options: TimeoutOptions = {},
): Middleware {
  if (options.graceMs !== undefined && !(options.graceMs >= 0 && options.graceMs <= MAX_TIMER_MS))
    throw new RangeError(
      `timeout: graceMs must be a number from 0 to ${MAX_TIMER_MS}, got ${options.graceMs}`,
    );
  // Above Node's longest timer a delay fires after 1 ms: every handler would time out at once.
  if (typeof timeoutMs === 'number') checkDelayMs('timeout: timeoutMs', timeoutMs);
  return (next, info) => async (delivery) => {
    const ms = typeof timeoutMs === 'number' ? timeoutMs : timeoutMs(delivery);
    if (typeof timeoutMs !== 'number') checkDelayMs(`timeout of ${info.name}`, ms);
    const graceMs = options.graceMs ?? Math.min(ms, 5_000);
    const controller = new AbortController();
    const outer = delivery.signal;
    const follow = () => controller.abort(outer?.reason);
    if (outer?.aborted) follow();
    else outer?.addEventListener('abort', follow, { once: true });
    const run = next({ ...delivery, signal: controller.signal });
    // Nobody may await the run after a timeout: keep its late failure from becoming unhandled.
    run.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = Symbol('late');
    try {
      const first = await Promise.race([
        run,
        new Promise<typeof late>((resolve) => {
          timer = setTimeout(() => resolve(late), ms);
        }),
      ]);
      if (first !== late) return first;
      const error = new HandlerTimeoutError(info.name, ms);
      controller.abort(error);
      const gone = Symbol('gone');
      const settled = await Promise.race([
        run.then(
          () => undefined,
          () => undefined,
        ),
        new Promise<typeof gone>((resolve) => {
          timer = setTimeout(() => resolve(gone), graceMs);
        }),
      ]);
      if (settled === gone) throw new HandlerTimeoutError(info.name, ms, true);
      throw error;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', follow);
    }
  };
}
