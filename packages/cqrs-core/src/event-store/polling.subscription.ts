import {
  type ReadAllOptions,
  type StoredEvent,
  type Subscription,
  type SubscriptionOptions,
} from './event-store.port';
import { checkSubscriptionOptions } from './event-store.rules';

const DEFAULT_BATCH = 500;

/**
 * A catch-up subscription over `readAll`: reads from `fromPosition` in batches, hands each event
 * to the handler one at a time (the next one after the handler's promise resolves), and polls
 * every `pollIntervalMs` once caught up. It relies on the store's no-skip guarantee: resuming
 * from the last delivered position never misses an event.
 *
 * Failures of reading or of the handler stop the subscription and go to `onError`; without
 * `onError` they are dropped, so pass one in production code.
 * @throws TypeError at once, before anything is read, when an option is outside the port's
 *   ranges (see checkSubscriptionOptions): a batch `limit` of 0 would otherwise poll for ever
 *   without sleeping
 */
export function pollingSubscription(
  readAll: (options: ReadAllOptions) => Promise<StoredEvent[]>,
  options: SubscriptionOptions,
): Subscription {
  checkSubscriptionOptions(options);
  let position = options.fromPosition ?? 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const pollMs = options.pollIntervalMs ?? 100;
  const batch = options.limit ?? DEFAULT_BATCH;

  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const loop = (async () => {
    try {
      while (!stopped) {
        const events = await readAll({
          fromPosition: position,
          types: options.types,
          limit: batch,
        });
        for (const event of events) {
          if (stopped) return;
          await options.handler(event);
          position = event.position;
        }
        if (events.length < batch && !stopped) await sleep();
      }
    } catch (error) {
      stopped = true;
      options.onError?.(error);
    }
  })();

  return {
    get position() {
      return position;
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
