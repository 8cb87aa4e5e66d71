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
 * 30 s; pass a function to choose per delivery). Hazard: JavaScript cannot stop the late handler; it keeps running and its effects may
 * still land, so handlers must be idempotent (they must be anyway: delivery is at least once).
 */
export function timeout(timeoutMs: number | ((delivery: Delivery) => number) = 10_000): Middleware {
  return (next, info) => async (delivery) => {
    const ms = typeof timeoutMs === 'number' ? timeoutMs : timeoutMs(delivery);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        next(delivery),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HandlerTimeoutError(info.name, ms)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
