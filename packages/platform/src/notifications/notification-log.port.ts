import { type Notification } from '@causeway/contracts';

/** A notification as stored in the log: `id` is its position, the SSE frame `id:` everywhere. */
export interface LoggedNotification {
  id: string;
  /** Epoch ms when it was appended. */
  at: number;
  notification: Notification;
}

/** Where a notification stands among those of one subject (e.g. one trainer's moves). */
export interface NotificationOrder {
  /** The subject: its notifications are kept in `version` order (a trainer: `position:<id>`). */
  key: string;
  /** The notification's version within the key (a trainer's stream version); higher is newer. */
  version: number;
  /**
   * Append only if the key's newest version in the log is at least this, i.e. nothing older is
   * still to come (a fast path passes the version before its event: it must not overtake a
   * backlog another producer is still appending). Default: no such condition.
   */
  previous?: number;
}

/** The newest notification appended under an order key: its entry and its version. */
export interface NewestNotification extends LoggedNotification {
  version: number;
}

/**
 * The ordered log of notifications every SSE gateway instance follows (fan-out: each instance
 * reads every entry) and replays from on resume. Ids are strings in one total order shared by
 * every reader, so a client can resume on any instance with the last id it saw.
 *
 * Contract (proved by `describeNotificationLog` against every implementation):
 * - `append` returns the new entry's id; ids strictly increase in append order
 *   (`compare(a, b) < 0` when a was appended first). What the Notification schema refuses is
 *   refused (a TypeError naming the field, `checkNotification`) and changes nothing.
 * - Appending a notification whose `notificationId` was appended before (within the dedup window,
 *   at least the log's retention) stores nothing and returns the id of the first append.
 * - `append(notification, order)` is the same, and also keeps the notifications of `order.key` in
 *   version order: it stores nothing and returns undefined when one of that key with a version
 *   >= `order.version` was appended (a late older one: appending it would send clients back in
 *   time), or when `order.previous` is given and the key's newest version is below it. The key's
 *   newest version is remembered for the retention after its last append (unknown = 0).
 *   A duplicate is answered as by `append` (its first id), before any order check.
 * - `newest(keys)` answers, for each order key given that has one, the entry appended last
 *   under it with `append(notification, order)` and its version, for as long as the key's
 *   newest version is remembered (the retention after its last append), even after its entry
 *   was trimmed: the newest state the log has told of a subject (a trainer's position), which
 *   readers merge with a read model that may lag the log.
 * - `idOf(notificationId)` is the id a notification with that notificationId was appended at
 *   (within the same dedup window), undefined if none was: what a duplicate's `append` would
 *   return, without building the notification first.
 * - `read(afterId, limit)` returns entries with id > afterId in order, at most `limit`;
 *   `afterId` undefined means from the oldest retained entry.
 * - `follow(afterId, onEntries, signal)` calls `onEntries` with every entry appended after
 *   `afterId` ('$' = only entries appended from now on), in order, each once, until the signal
 *   aborts; it resolves after the abort. A slow `onEntries` delays the next call (no overlap).
 *   An `onEntries` that throws (or rejects) does not end the follow: that batch is passed over
 *   (not delivered again) and the follower goes on with the entries after it. The logs' option
 *   `onFollowError` hears of it as a NotificationDeliveryError (what was thrown is its `cause`),
 *   told apart from a failure of the log itself.
 *   `onRead` (optional) is called after every read of the log that succeeded, also one that
 *   found nothing: while the log can be read it is called at least every FOLLOW_READ_MAX_MS
 *   (a Redis BLOCK returns empty), and not at all while reads fail or hang. It tells a follower
 *   that is waiting for entries from one cut off from the log (sse-gateway stops vouching for
 *   its streams then: ADR 007, session 30 addendum).
 *   `onGap(through)` (optional) is called, before any entry after them, when the trimming took
 *   entries after the follower's position that it had not read (it lagged the log by more than
 *   its retention): `through` is the newest entry the trimming took (`trimmedThrough`'s id).
 *   Those entries are never delivered; the follower goes on with the entries after them.
 * - `oldestId()` is the id of the oldest retained entry (undefined when empty); entries older
 *   than the retention (count and age, settings) are trimmed, never the newest ones.
 * - `latestId()` is the id of the newest entry (undefined when empty).
 * - `lastAppendedId()` is the id of the newest entry ever appended, even when `remove` or the
 *   trimming took it since (undefined when nothing was appended, or the log lost its data):
 *   a position the log reached, which a client or follower may hold though no entry has it.
 * - `trimmedThrough()` is the id of the newest entry the trimming (count or age) took, while the
 *   log can vouch that every entry after it is still there or was taken by `remove`: a client
 *   whose id is at or after it missed nothing the trimming took (a log quiet for longer than its
 *   retention trims, on its next append, the entry every connected client holds). Undefined when
 *   nothing was trimmed, when the log lost its data, or when it cannot vouch (its oldest entry is
 *   no longer the one the trimming left: another trim it did not record, or `remove` took it);
 *   `remove` is no trimming and never sets it.
 * - `remove(ids)` deletes the entries with those ids (ids not in the log are passed over) and
 *   resolves with how many it deleted: `read`, `follow` and `oldestId`/`latestId` no longer see
 *   them; ids appended later still increase, and a removed notification's `notificationId` keeps
 *   its dedup window (appending it again stores nothing). For data that must not outlive its own
 *   retention (a task's progress, SPEC S3-7), not for trimming.
 * - `isId(id)` tells a well-formed id from anything else (a client's Last-Event-ID may be junk);
 *   `compare` is only defined on well-formed ids.
 */
/** The longest a `follow` that can read the log goes without calling `onRead` (see NotificationLog). */
export const FOLLOW_READ_MAX_MS = 5_000;

export interface NotificationLog {
  append(notification: Notification): Promise<string>;
  append(notification: Notification, order: NotificationOrder): Promise<string | undefined>;
  idOf(notificationId: string): Promise<string | undefined>;
  newest(keys: readonly string[]): Promise<Map<string, NewestNotification>>;
  read(afterId: string | undefined, limit: number): Promise<LoggedNotification[]>;
  follow(
    afterId: string | '$',
    onEntries: (entries: LoggedNotification[]) => Promise<void> | void,
    signal: AbortSignal,
    onRead?: () => void,
    onGap?: (through: string) => void,
  ): Promise<void>;
  remove(ids: readonly string[]): Promise<number>;
  oldestId(): Promise<string | undefined>;
  latestId(): Promise<string | undefined>;
  lastAppendedId(): Promise<string | undefined>;
  trimmedThrough(): Promise<string | undefined>;
  compare(a: string, b: string): number;
  isId(id: string): boolean;
  close(): Promise<void>;
}
