import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type ReadAllOptions,
  type ReadAllPage,
  type StoredEvent,
  type Subscription,
  type SubscriptionOptions,
} from './event-store.port';
import { checkSubscriptionOptions } from './event-store.rules';
import { typeNameOf } from '../messages/message.type';
import { warnOfSubscriptionFailure } from './subscription-failure.warning';
import { callHook } from '../messages/hook.call';
import { CheckpointPastEndError } from './event-store.errors';

const DEFAULT_BATCH = 500;

/** The subscription whose handler is running (stop() from inside it must not wait for itself). */
const handling = new AsyncLocalStorage<{ owner: object; running: boolean }>();

/** What a store tells pollingSubscription about its log besides its pages. */
export interface PolledLog {
  /**
   * The end of the log: a position at or above every position taken (and every checkpoint a
   * page of this log can give). With it, a subscription whose first page from a `fromPosition`
   * above 0 finds nothing asks for it once, and stops with CheckpointPastEndError when the
   * position is past it instead of polling for ever. Without it, that is not checked.
   */
  end?: () => Promise<number>;
}

/**
 * A catch-up subscription over `readAllPage`: reads pages from `fromPosition`, hands each event
 * to the handler one at a time (the next one after the handler's promise resolves), then moves
 * its position to the page's checkpoint, and polls every `pollIntervalMs` once a page reaches
 * the end of the log (telling `onCaughtUp` first). It relies on the store's no-skip guarantee for that checkpoint: resuming
 * from it never misses an event. A type-filtered subscription's position so follows the log
 * past the events it filters out, and an idle one reads from the end of the log, not from its
 * last event.
 *
 * When a page cannot be read (say one event of it fails its checksum), the events before the
 * failing one are still delivered: the subscription reads on one event at a time until that
 * read fails too, then stops with that error, which the store has located (streamId, version,
 * position). Its position is then the checkpoint of the last event delivered. When reading one
 * at a time does not fail again (the failure was not about an event), it stops with the first
 * error after at most one page's worth of events.
 *
 * Started from a checkpoint past the end of the log (`log.end`, when the store gives it), it
 * stops at once with CheckpointPastEndError, naming the checkpoint and the end.
 *
 * Failures of reading, of the handler or of `onCaughtUp` (a throw, or a promise that rejects)
 * stop the subscription and go to `onError`; without
 * `onError`, each is a process warning (warnOfSubscriptionFailure) naming the position, the
 * event whose handler failed and the error: a subscription never stops silently.
 * @throws TypeError at once, before anything is read, when an option is outside the port's
 *   ranges (see checkSubscriptionOptions): a batch `limit` of 0 would otherwise poll for ever
 *   without sleeping
 */
export function pollingSubscription(
  readPage: (options: ReadAllOptions) => Promise<ReadAllPage>,
  options: SubscriptionOptions,
  log: PolledLog = {},
): Subscription {
  checkSubscriptionOptions(options);
  let position = options.fromPosition ?? 0;
  /** Whether a start past the end of the log is still to be looked for (see PolledLog.end). */
  let checkStart = log.end !== undefined && position > 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const pollMs = options.pollIntervalMs ?? 100;
  const self = {};
  /** The event whose handler is running, for the default report of its failure. */
  let handlingEvent: StoredEvent | undefined;
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

  // By name: a store of one's own built on this sees type names only.
  const types = options.types?.map(typeNameOf);
  const read = (limit: number) => readPage({ fromPosition: position, types, limit });

  /** Hands the page's events to the handler; false when stopped on the way. */
  const deliver = async (page: ReadAllPage): Promise<boolean> => {
    for (const event of page.events) {
      if (stopped) return false;
      // One token per call, cleared when the handler returns: work it started that outlives it
      // (a timer, a background promise) inherits the token but no longer counts as "inside".
      const token = { owner: self, running: true };
      handlingEvent = event;
      try {
        await handling.run(token, () => options.handler(event));
      } finally {
        token.running = false;
      }
      handlingEvent = undefined;
      position = event.position;
    }
    if (stopped) return false;
    position = Math.max(position, page.position);
    return true;
  };

  /**
   * A page read failed with `error`: delivers the events before the one that failed, reading
   * them one by one, then throws the error of the read that fails (or `error` when none does
   * within a page's worth of reads, or the end of the log comes first).
   */
  const deliverUpTo = async (error: unknown): Promise<void> => {
    for (let step = 0; step < batch; step++) {
      const page = await read(1);
      if (!(await deliver(page))) return;
      if (page.caughtUp) break;
    }
    throw error;
  };

  /**
   * What onCaughtUp threw, or the promise it returned rejected with: the subscription stops with
   * it. Not awaited (a hook that never settles must not hold the subscription up); a rejection
   * left alone was one nobody handled, which ends the Node process (a review, session 46).
   */
  let hookFailure: { error: unknown } | undefined;
  const caughtUp = (at: number) => {
    const { onCaughtUp } = options;
    if (!onCaughtUp) return;
    callHook(
      () => onCaughtUp(at),
      (error) => {
        hookFailure ??= { error };
        stopped = true;
        wake?.();
      },
    );
  };

  /** Reads and delivers until stopped; throws what stops it otherwise. */
  const run = async (): Promise<void> => {
    while (!stopped) {
      let page: ReadAllPage;
      try {
        page = await read(batch);
      } catch (error) {
        await deliverUpTo(error);
        return;
      }
      if (checkStart) {
        checkStart = false;
        // Only a first page that found nothing can start past the end: asked once, then.
        if (page.caughtUp && page.events.length === 0 && page.position <= position) {
          const end = await log.end!();
          if (end < position) throw new CheckpointPastEndError(position, end);
        }
      }
      if (!(await deliver(page))) return;
      if (page.caughtUp && !stopped) {
        caughtUp(position);
        if (!hookFailure) await sleep();
      }
    }
  };

  const loop = (async () => {
    try {
      await run();
      // A hook's promise may reject while the next page is read: that stops the loop too.
      if (hookFailure) throw hookFailure.error;
    } catch (error) {
      stopped = true;
      const failure = {
        position,
        types,
        event: handlingEvent,
        error,
        ...(hookFailure?.error === error && { hook: 'onCaughtUp' as const }),
      };
      if (!options.onError) return warnOfSubscriptionFailure(failure);
      // A report that fails (a log sink down) is warned of with the failure, not left to reject
      // this loop: a rejection nobody handles ends the Node process (stop() awaits it later).
      // Not awaited: stop() must not wait for a report that never settles.
      const { onError } = options;
      callHook(
        () => onError(error),
        (reportError) => warnOfSubscriptionFailure({ ...failure, reportError }),
      );
    }
  })();

  const subscription: Subscription = {
    get position() {
      return position;
    },
    async stop() {
      stopped = true;
      wake?.();
      // Called by its own handler ("read until X, then stop"): the loop waits for that handler,
      // so waiting for the loop here would never end. It stops once the handler returns.
      const inside = handling.getStore();
      if (inside?.owner === self && inside.running) return;
      await loop;
    },
  };
  return subscription;
}
