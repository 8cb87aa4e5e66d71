import { type Notification } from '@causeway/contracts';

/**
 * What a stream other than GET /events shows of the notification log (the progress streams,
 * ADR 015): the hub gives it the same limits, heartbeats, timeouts and Last-Event-ID resume as
 * /events, and asks the view which of the user's notifications belong on it and how they look.
 *
 * Contract:
 * - `accepts` is asked only of notifications addressed to the stream's user; a notification it
 *   refuses is neither sent live nor replayed, nor counted against HISTORY_SIZE on a resume.
 * - `frame` makes the SSE frame of an accepted entry (with `id:` = the log id). It must depend
 *   on the entry only: the hub serialises an entry once per `frame` function, for every stream
 *   whose view has that same function.
 * - `opening` is what every (re)connect begins with instead of the `session` frame, read after
 *   the stream is registered (what is logged meanwhile reaches it after the opening); every
 *   frame it returns carries `id` (where the client resumes from). It may throw: the stream then
 *   ends with a `retry:` hint, as a failed resume of /events does. `replayed` says whether the
 *   gap after the client's Last-Event-ID is replayed after it (else, and by default, the opening is the state).
 * - `covers`, if given, is asked of each accepted notification the stream would send after a
 *   non-replayed opening (queued or live): true when the opening already showed its state (a
 *   state read after the notification was logged but before this gateway dispatched it), so
 *   that it is not told twice, nor an older state after a newer one: the stream gets the
 *   entry's id alone (an id-only frame), so that its client's resume point still moves past it.
 *   After a replayed opening everything after the client's id is sent: it asked for what it
 *   missed.
 */
export interface StreamView {
  accepts(notification: Notification): boolean;
  readonly frame: (id: string, notification: Notification) => string;
  opening(id: string, retryMs: number, replayed?: boolean): Promise<string>;
  covers?(notification: Notification): boolean;
}
