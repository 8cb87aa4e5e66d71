import { type Notification } from '@causeway/contracts';

/** A notification as stored in the log: `id` is its position, the SSE frame `id:` everywhere. */
export interface LoggedNotification {
  id: string;
  /** Epoch ms when it was appended. */
  at: number;
  notification: Notification;
}

/**
 * The ordered log of notifications every SSE gateway instance follows (fan-out: each instance
 * reads every entry) and replays from on resume. Ids are strings in one total order shared by
 * every reader, so a client can resume on any instance with the last id it saw.
 *
 * Contract (proved by `describeNotificationLog` against every implementation):
 * - `append` returns the new entry's id; ids strictly increase in append order
 *   (`compare(a, b) < 0` when a was appended first).
 * - Appending a notification whose `notificationId` was appended before (within the dedup window,
 *   at least the log's retention) stores nothing and returns the id of the first append.
 * - `idOf(notificationId)` is the id a notification with that notificationId was appended at
 *   (within the same dedup window), undefined if none was: what a duplicate's `append` would
 *   return, without building the notification first.
 * - `read(afterId, limit)` returns entries with id > afterId in order, at most `limit`;
 *   `afterId` undefined means from the oldest retained entry.
 * - `follow(afterId, onEntries, signal)` calls `onEntries` with every entry appended after
 *   `afterId` ('$' = only entries appended from now on), in order, each once, until the signal
 *   aborts; it resolves after the abort. A slow `onEntries` delays the next call (no overlap).
 * - `oldestId()` is the id of the oldest retained entry (undefined when empty); entries older
 *   than the retention (count and age, settings) are trimmed, never the newest ones.
 * - `latestId()` is the id of the newest entry (undefined when empty).
 * - `isId(id)` tells a well-formed id from anything else (a client's Last-Event-ID may be junk);
 *   `compare` is only defined on well-formed ids.
 */
export interface NotificationLog {
  append(notification: Notification): Promise<string>;
  idOf(notificationId: string): Promise<string | undefined>;
  read(afterId: string | undefined, limit: number): Promise<LoggedNotification[]>;
  follow(
    afterId: string | '$',
    onEntries: (entries: LoggedNotification[]) => Promise<void> | void,
    signal: AbortSignal,
  ): Promise<void>;
  oldestId(): Promise<string | undefined>;
  latestId(): Promise<string | undefined>;
  compare(a: string, b: string): number;
  isId(id: string): boolean;
  close(): Promise<void>;
}
