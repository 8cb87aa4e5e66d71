import { type StoredEvent } from './event-store.port';

/** The `type` of the process warning a subscription without `onError` emits when it stops. */
export const SUBSCRIPTION_WARNING = 'CausewaySubscriptionWarning';

/** Why a catch-up subscription stopped. */
export interface SubscriptionFailure {
  /** The subscription's position when it stopped: the checkpoint to subscribe again from. */
  readonly position: number;
  /** The subscription's type filter, if any. */
  readonly types?: readonly string[];
  /** The event whose handler failed; none when reading failed (the error locates the event). */
  readonly event?: StoredEvent;
  /** Set when the subscription's `onCaughtUp` failed (threw, or its promise rejected). */
  readonly hook?: 'onCaughtUp';
  readonly error: unknown;
  /** What the subscription's own `onError` threw (or rejected with) when told of `error`. */
  readonly reportError?: unknown;
}

/**
 * The default report of a subscription without `onError` (see SubscriptionOptions.onError): one
 * process warning (`CausewaySubscriptionWarning`, code `CAUSEWAY_SUBSCRIPTION_FAILED`) per
 * failure — a subscription stops at its first — naming its position, its type filter, the event
 * its handler failed on (type, messageId, stream, version, position) and the error. Without it
 * a projection bug or a read failure ended the subscription with nothing said anywhere and
 * later events were never delivered. The event's data is left out: it may be large or hold data
 * that does not belong in logs. Also emitted when `onError` itself fails (`reportError`).
 */
export function warnOfSubscriptionFailure(failure: SubscriptionFailure): void {
  const { position, types, event, error, hook } = failure;
  const reason = errorText(error);
  const filter = types === undefined ? '' : ` (types ${types.join(', ') || 'none'})`;
  const cause =
    hook !== undefined
      ? `its ${hook} failed: ${reason}`
      : event === undefined
        ? `reading the log failed: ${reason}`
        : `its handler failed on ${event.type} ${event.messageId} (stream ${event.streamId}, ` +
          `version ${event.version}, position ${event.position}): ${reason}`;
  process.emitWarning(
    `event store subscription${filter} stopped at position ${position}: ${cause}. Later events ` +
      `are not delivered: fix the cause and subscribe again from position ${position}; ` +
      ('reportError' in failure
        ? `onError failed on it too: ${errorText(failure.reportError)}`
        : 'pass onError to report it your way'),
    { type: SUBSCRIPTION_WARNING, code: 'CAUSEWAY_SUBSCRIPTION_FAILED' },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
