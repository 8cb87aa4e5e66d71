import { type Envelope } from '../messages/envelope';
import { type MessageType } from '../messages/message.type';

/**
 * What the caller expects the stream's version to be before an append:
 * - a number: exactly that version (0 = the stream has no events yet; after a soft delete
 *   versions continue, so it is the old last version);
 * - 'no-stream': the stream has no readable events (never written, soft-deleted, or truncated
 *   past its last event);
 * - 'exists': the stream has at least one readable event;
 * - 'any': no check.
 */
export type ExpectedVersion = number | 'any' | 'no-stream' | 'exists';

/** An event as the event store returns it. */
export interface StoredEvent<Data = unknown> extends Envelope<Data> {
  readonly streamId: string;
  /**
   * Position in the store's global log; strictly increasing in commit-visibility order. Not
   * necessarily consecutive (the MongoDB store numbers events `slot * 1000 + index`).
   */
  readonly position: number;
}

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append (= version of its last event). */
  nextExpectedVersion: number;
  /** Global positions of the appended events, in order (empty when every event was a duplicate). */
  positions: number[];
}

/**
 * Numbers in the options below are checked before a store does anything: a value outside the
 * range given (NaN, ±Infinity, a fraction, a negative number, a numeric string) is refused with
 * a TypeError naming the option and the value, alike on every backend.
 */
export interface ReadStreamOptions {
  /**
   * First version to return (inclusive); a positive integer. Default 1 forwards, the last
   * version backwards. Backwards, it is the highest version and `toVersion` the lowest.
   */
  fromVersion?: number;
  /** Last version to return (inclusive); a positive integer. Default: no bound. */
  toVersion?: number;
  /** Default 'forwards'. */
  direction?: 'forwards' | 'backwards';
  /** At most this many events; a non-negative integer (0 returns []). Default: no limit. */
  limit?: number;
}

export interface ReadAllOptions {
  /**
   * Return events with position > fromPosition; a non-negative integer. Default 0 (from the
   * start).
   */
  fromPosition?: number;
  /**
   * Only these event types: an array of type names or message types (`messageType(…)`, matched
   * by name, as `EventBus.on` takes them; [] matches no event). Default: every type. A store of
   * your own resolves them with `typeNameOf`.
   */
  types?: readonly (string | MessageType)[];
  /** At most this many events; a non-negative integer (0 returns []). Default: no limit. */
  limit?: number;
}

/**
 * `fromPosition` and `types` as for readAll. `limit` here is the batch read per poll: a positive
 * integer, default 500.
 */
export interface SubscriptionOptions extends ReadAllOptions {
  /** Called for each event in position order; the next event is delivered after it resolves. */
  handler: (event: StoredEvent) => Promise<void> | void;
  /**
   * Poll interval when caught up (stores without push notification): a positive number of
   * milliseconds, at most 2 147 483 647 (the longest a timer waits). Default 100 ms.
   */
  pollIntervalMs?: number;
  /**
   * Called when reading, the handler or `onCaughtUp` fails; the subscription stops. When an event cannot be
   * read (a checksum mismatch, an unknown type, a schema failure), every event before it is
   * delivered first, and the error names the event (`streamId`, `version`, `position`,
   * `messageId`): repair or remove it, then subscribe again from `position`.
   * Default: a process warning (`CausewaySubscriptionWarning`, code
   * `CAUSEWAY_SUBSCRIPTION_FAILED`), one per failure, naming the subscription's position and
   * type filter, the event its handler failed on (type, messageId, stream, version, position)
   * and the error; the subscription stops all the same. Pass `onError` to report it your way
   * (and to resubscribe: the subscription never restarts by itself). When `onError` itself
   * throws (or returns a promise that rejects), the failure is warned of as without it, with
   * what `onError` threw: never an unhandled rejection, which would end the process.
   */
  onError?: (error: unknown) => void;
  /**
   * Called each time the subscription has delivered every event up to the end of the log as it
   * was when read (before it waits for more), with its `position` then. A projection is "live"
   * from the first call; a store without push notification calls it after every poll that
   * found nothing new, so keep it cheap. When it throws, or returns a promise that rejects
   * (it is not awaited), the subscription stops as when its handler fails: `onError` is told,
   * or the warning names `onCaughtUp`.
   */
  onCaughtUp?: (position: number) => void;
}

export interface Subscription {
  /**
   * The checkpoint to save: every event of the subscription (of its `types`) at or before this
   * position was handed to the handler, and resuming with `fromPosition` = this position misses
   * none after it. It moves with each event delivered, and once a page is delivered, to the
   * page's `position` (see ReadAllPage), so it also moves past events the type filter leaves
   * out and past removed positions: an idle filtered subscription's checkpoint follows the end
   * of the log. It is not necessarily an event's position. After a failure (onError) it is the
   * checkpoint of the last event delivered, before the one that could not be read.
   */
  readonly position: number;
  /**
   * Stops after the event in flight; resolves when stopped. Called by the subscription's own
   * handler ("read until X, then stop"), it resolves at once and the subscription stops when
   * that handler returns (its event counts as delivered).
   */
  stop(): Promise<void>;
}

/** One page of `readAllPage`. */
export interface ReadAllPage {
  /** The events read, in position order; at most `limit`. */
  events: StoredEvent[];
  /**
   * The checkpoint after this page, to pass as the next `fromPosition`: every event matching
   * the filter with a position at or below it was returned by this page or lies at or below
   * the `fromPosition` asked for. It is at least `fromPosition` and at least the last returned
   * event's position, and may be further, past events the filter left out and past removed
   * positions, but never past a position that an append could still make visible (the no-skip
   * guarantee holds for it as for an event's position). Not necessarily an event's position.
   */
  position: number;
  /**
   * True when the page reached the end of the log as it stood during the read: reading again
   * at once would find only what was appended since, so a poller may wait. False when it
   * stopped at `limit` or at the store's work budget (a page does bounded work, so a page may
   * hold fewer than `limit` events, even none, and still not be at the end; its `position` then
   * moved on): read on from `position`.
   */
  caughtUp: boolean;
}

export interface StreamInfo {
  streamId: string;
  /** Version of the last event; 0 when the stream has no events. */
  version: number;
  /** Events before this version were truncated. Default 1. */
  firstVersion: number;
  state: 'active' | 'soft-deleted' | 'tombstoned' | 'missing';
  /**
   * Set on an active stream whose first events were removed by truncateStream or
   * applyRetention since it was last created (not by a soft delete, after which a stream
   * created again starts past version 1 with nothing of it removed): what those events held is
   * gone, and a reader of the stream can no longer tell what it was. Absent otherwise. Redis:
   * only for cuts made since session 49 (a stream cut before keeps no mark until its next cut).
   */
  truncated?: true;
}

/**
 * Each part may be left out; a policy with none of them removes nothing. `maxAgeMs` and
 * `maxCount` together remove what either would remove alone (each stream is cut after the
 * larger of the two prefixes); `maxPosition` then holds that cut back.
 */
export interface RetentionPolicy {
  /**
   * Remove events older than this many milliseconds (by metadata.timestamp): the oldest run of
   * them, from the stream's first event up to the first younger one, so no hole opens.
   * A non-negative finite number (0: every event older than now).
   */
  maxAgeMs?: number;
  /**
   * Keep at most this many most recent events per stream; a non-negative integer (0 keeps none:
   * every event of the matching streams is removed).
   */
  maxCount?: number;
  /** Only streams whose id starts with this prefix; a string. Default: every stream. */
  streamPrefix?: string;
  /**
   * Remove only events at or before this global position; the events after it stay, whatever
   * the parts above say (a stream is still only cut at a prefix). Pass where every reader that
   * must see each event has got to — the lowest checkpoint of the outbox forwarder and of the
   * projections (RetentionJob's `processedUpTo`) — or retention removes events they have not
   * read. A non-negative integer (0 removes nothing). Default: no limit.
   */
  maxPosition?: number;
}

/**
 * The event store port (S2-1, S2-2). Implementations: in-memory, MongoDB, Redis; all pass the
 * conformance suite in `@causeway/cqrs-core/testing`.
 *
 * Contract:
 * - **Atomic appends.** All events of one append become visible together or not at all; a failed
 *   append (conflict, validation, size) writes nothing.
 * - **Optimistic concurrency.** A wrong expected version throws ConcurrencyConflictError with
 *   `streamId`, `expected` and `actual`; of concurrent appends at the same expected version
 *   exactly one wins.
 * - **Idempotency.** Re-appending events whose messageIds are already in the stream (same
 *   messageIds in the same order, among its readable events) succeeds and writes nothing twice;
 *   the result reports the version of the last of them and no positions. It is checked when the
 *   expected version does not hold (the retry of an append that did get through) and on every
 *   'any' / 'exists' append; a batch that only partly matches stored events is a
 *   ConcurrencyConflictError (with `overlap` set when the expected version held: the batch
 *   is what conflicts, and retrying it as it is cannot succeed). Only the messageIds are
 *   compared: a stored messageId re-sent with other data or metadata is a re-append too, and
 *   its new data is not written (give a changed event a new messageId).
 * - **Global order without skips.** `readAll` returns events in position order, and a reader that
 *   resumes from the last position it saw never misses an event that becomes visible later:
 *   positions are visible in increasing order (see docs/adr for each backend's mechanism).
 *   The same holds for the checkpoint of a `readAllPage`, which may lie past the last event
 *   returned (past events a type filter left out), but never past a position that is not yet
 *   visible and could still become so.
 * - **Versions** start at 1 and have no gaps within a stream (truncation only removes a prefix).
 * - Safe to call concurrently from many async callers and processes.
 */
export interface EventStore {
  /** Creates collections, keys, indexes and scripts. Idempotent; call once at start-up. */
  init(): Promise<void>;

  /**
   * Appends events to a stream. The store assigns `version` and `position`; the envelopes'
   * own `version` is ignored. A backend may bound one append (MongoDB: 1 000 events and 16 MB,
   * refused before anything is written); split larger batches, or append them in several steps.
   * @throws ConcurrencyConflictError when the expected version does not hold
   * @throws StreamDeletedError when the stream is tombstoned
   * @throws MessageTooLargeError / MessageValidationError before anything is written (also
   *   MessageValidationError when one messageId appears twice in `events`)
   * @throws TypeError before anything is written when `expectedVersion` is missing or not one of
   *   the forms above (a non-negative integer, 'any', 'no-stream', 'exists'), or an event is no
   *   envelope (a non-empty `type` and `messageId`, string `aggregateId` and `aggregateType`, a
   *   `metadata` object), naming it
   */
  append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult>;

  /**
   * Events of one stream in version order (or reverse). A missing stream reads as [].
   * @throws TypeError before reading when an option is outside its range (see ReadStreamOptions)
   */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredEvent[]>;

  /**
   * Events of all streams in global position order (every matching event after `fromPosition`,
   * up to `limit`). A reader that checkpoints should use readAllPage instead.
   * @throws the serializer's error for an event that cannot be decoded, as readAllPage does
   * @throws TypeError before reading when an option is outside its range (see ReadAllOptions)
   */
  readAll(options?: ReadAllOptions): Promise<StoredEvent[]>;

  /**
   * One page of `readAll` with a checkpoint: the events after `fromPosition` in position order
   * (at most `limit`; fewer when the store's work budget for one call runs out first), and the
   * `position` to resume from (see ReadAllPage). Use it, not the last event's position, as the
   * checkpoint of a reader with a type filter: it moves past the events the filter leaves out,
   * so neither the next read nor a restart scans them again. Bounded work per call; a `limit`
   * of 0 returns no events at `fromPosition` (caughtUp false).
   * @throws TypeError before reading when an option is outside its range (see ReadAllOptions)
   * @throws the serializer's error (ChecksumMismatchError, UnknownMessageTypeError,
   *   MessageValidationError, …) for an event that cannot be decoded, with its `streamId`,
   *   `version` and `position` set (see locateReadError); nothing of the page is returned
   */
  readAllPage(options?: ReadAllOptions): Promise<ReadAllPage>;

  /**
   * Catch-up subscription: delivers every event after `fromPosition`, then follows new ones live.
   * It stops at the first failure of reading or of its handler and tells `onError` (by default
   * a `CausewaySubscriptionWarning` process warning): it never stops silently. A `fromPosition`
   * past the end of the log (a checkpoint of another log: the store emptied or re-created,
   * another key prefix or database) stops it at once with CheckpointPastEndError, naming the
   * position and the end; events appended there would otherwise never be delivered.
   * @throws TypeError at once (synchronously), before anything is read, when `handler` is not a
   *   function or an option is outside its range (see SubscriptionOptions)
   */
  subscribe(options: SubscriptionOptions): Subscription;

  /** The stream's version and state. */
  streamInfo(streamId: string): Promise<StreamInfo>;

  /**
   * Deletes a stream. 'soft': its events disappear from reads and the stream can be created
   * again (versions continue after the old last version); a missing stream is left alone.
   * 'hard': a tombstone; appends fail with StreamDeletedError forever, even on a stream that
   * never existed. Hard-deleting a tombstoned stream again changes nothing a reader sees (it
   * finishes a hard delete that stopped half-way, on a store that removes in steps); soft-deleting it throws
   * StreamDeletedError.
   * Removal is immediate and knows no reader: events a reader has not reached yet (an
   * EventForwarder's round, a projection's catch-up) are never read by it. Delete what readers
   * have passed (their checkpoints), or use applyRetention with `maxPosition`. Same for
   * truncateStream.
   * @throws ConcurrencyConflictError when `expectedVersion` is given and does not hold
   * @throws TypeError before anything changes when `mode` is not 'soft' or 'hard', or
   *   `expectedVersion` is not an ExpectedVersion
   */
  deleteStream(
    streamId: string,
    options: { mode: 'soft' | 'hard'; expectedVersion?: ExpectedVersion },
  ): Promise<void>;

  /**
   * Removes events with version < beforeVersion from the stream (reads start at beforeVersion;
   * never past the last version + 1). `beforeVersion` is a positive integer: 1 removes nothing,
   * one above the last version removes every event; a missing stream is left alone.
   * @throws TypeError before anything changes when `beforeVersion` is not a positive integer
   */
  truncateStream(streamId: string, beforeVersion: number): Promise<void>;

  /**
   * Applies a retention policy once; returns how many events were removed. Run it from a
   * periodic job. On a store that removes in steps (MongoDB), it also finishes deletes (hard
   * or soft) and truncates whose process stopped half-way, whatever the policy, and counts
   * their events.
   * @throws TypeError before anything is removed when the policy is missing or a part of it is
   *   outside its range (see RetentionPolicy)
   */
  applyRetention(policy: RetentionPolicy): Promise<number>;

  close(): Promise<void>;
}
