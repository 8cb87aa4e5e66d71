import { setTimeout as sleep } from 'node:timers/promises';
import { type Middleware } from '../router/handler';

export interface ThrottleOptions {
  /** Handler runs allowed per `perMs`, spread evenly (one every perMs / count). */
  count: number;
  /** Default 1 000 ms. */
  perMs?: number;
}

/**
 * Limits how often a handler starts, per process: at most `count` runs per `perMs`, spaced
 * evenly (Watermill's Throttle), for handlers that call a rate-limited API: two runs never
 * start closer than `perMs / count`, even after the event loop stalled. A run's start lasts
 * until its handler's synchronous part has returned: the next run waits the spacing after
 * that. Each handler the middleware wraps has its own pace. A delivery waiting for its turn
 * holds its in-flight slot, so the subscriber reads no further than it can hand out
 * (back-pressure, not a growing queue); it gives up its turn, without running, when
 * `delivery.signal` has aborted by then. Across instances the rates add up: divide by the
 * number of instances, or keep the limit in the called service.
 */
export function throttle(options: ThrottleOptions): Middleware {
  const perMs = options.perMs ?? 1_000;
  if (!(options.count > 0) || !Number.isFinite(options.count))
    throw new RangeError(`throttle: count must be a positive number, got ${options.count}`);
  if (!(perMs > 0) || !Number.isFinite(perMs))
    throw new RangeError(`throttle: perMs must be a positive number, got ${perMs}`);
  const spacing = perMs / options.count;
  return (next) => {
    // Runs take turns: each waits until `spacing` after the previous one actually started, so
    // an event loop that stalled cannot release a bunch of late runs at once.
    let turns: Promise<void> = Promise.resolve();
    let lastStart = -Infinity;
    return async (delivery) => {
      const turn = turns.then(async () => {
        // A timer may fire up to a millisecond before the wall clock shows its delay passed:
        // wait again until it does, so that the spacing holds as Date.now() measures it.
        for (
          let ms = lastStart + spacing - Date.now();
          ms > 0 || delivery.signal?.aborted;
          ms = lastStart + spacing - Date.now()
        )
          // Rejects with the signal's reason (timers/promises would name an AbortError instead).
          await sleep(Math.max(0, ms), undefined, { signal: delivery.signal }).catch(() => {
            throw delivery.signal?.reason as Error;
          });
        // The start is recorded once the run has started (its synchronous part has run), not
        // before: even within one synchronous step the thread can be paused (a GC, the OS
        // scheduling another process), and a start recorded before such a pause would let the
        // next run begin less than the spacing after this one observably started.
        let run: ReturnType<typeof next>;
        try {
          run = next(delivery);
        } finally {
          lastStart = Date.now();
        }
        return { run };
      });
      // The next turn waits for this one to start, not to finish.
      turns = turn.then(
        () => undefined,
        () => undefined,
      );
      return (await turn).run;
    };
  };
}
