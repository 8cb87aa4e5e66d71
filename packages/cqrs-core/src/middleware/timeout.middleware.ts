import { type Middleware } from '../router/handler';
import { type Delivery } from '../transport/transport.port';

/** A handler did not finish in time. Transient: retried like any other failure. */
export class HandlerTimeoutError extends Error {
  constructor(
    readonly handler: string,
    readonly timeoutMs: number,
  ) {
    super(`handler ${handler} did not finish within ${timeoutMs} ms`);
    this.name = 'HandlerTimeoutError';
  }
}

/**
 * Fails a delivery whose handler takes longer than `timeoutMs` (S0-9: events 10 s, commands
 * 30 s; pass a function to choose per delivery), and aborts the delivery's `signal` with the
 * same HandlerTimeoutError so a handler that passes the signal on stops its work. The signal
 * also follows a `signal` the delivery already carried (an outer timeout). Hazard: JavaScript
 * cannot stop a handler that ignores the signal; it keeps running and its effects may still
 * land, so handlers must be idempotent (they must be anyway: delivery is at least once).
 */
export function timeout(timeoutMs: number | ((delivery: Delivery) => number) = 10_000): Middleware {
  return (next, info) => async (delivery) => {
    const ms = typeof timeoutMs === 'number' ? timeoutMs : timeoutMs(delivery);
    const controller = new AbortController();
    const outer = delivery.signal;
    const follow = () => controller.abort(outer?.reason);
    if (outer?.aborted) follow();
    else outer?.addEventListener('abort', follow, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        next({ ...delivery, signal: controller.signal }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new HandlerTimeoutError(info.name, ms);
            controller.abort(error);
            reject(error);
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', follow);
    }
  };
}
