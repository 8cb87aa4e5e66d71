import { isAddressedTo } from '@causeway/contracts';
import { logIdTime, type LoggedNotification, type NotificationLog } from '@causeway/platform';

/**
 * `ahead`: the client's id is beyond what this instance dispatched (`upTo`) but within the log
 * (at most its latest id): the client was served by an instance whose follower was further on,
 * and this one lags. It has everything up to its id; nothing is replayed, and the entries up
 * to its id that this instance dispatches later must not reach it (SseHub.open).
 */
export type ResumePlan =
  | { kind: 'replay'; entries: LoggedNotification[] }
  | { kind: 'ahead' }
  | { kind: 'recovery'; reason: RecoveryReason };

/**
 * Why a resume could not be replayed (ADR 007):
 * - `trimmed`: the id is older than the oldest retained entry and the trimming took entries
 *   after it (not only entries up to it: a log quiet past its retention), or the log no longer
 *   holds entries that came after it (a log emptied or cut short: a Redis that lost its data);
 * - `expired`: the client missed a notification addressed to it that is older than
 *   HISTORY_TTL_MS (one that missed nothing is not expired, however old its id);
 * - `too-many-missed`: more than HISTORY_SIZE entries addressed to the user were missed;
 * - `scan-limit`: the gap holds more than HISTORY_SCAN_LIMIT entries in all (addressed to
 *   anyone), whatever the user missed: a resume reads and filters them all, so that bounds what
 *   one reconnect costs the gateway;
 * - `unknown-position`: the id is ahead of this log's latest entry (another log, or a reset one);
 *   one ahead only of what this instance dispatched is `ahead` (ResumePlan), no recovery.
 */
export type RecoveryReason =
  'trimmed' | 'expired' | 'too-many-missed' | 'scan-limit' | 'unknown-position';

const PAGE = 500;

/**
 * The position before the log's first entry: the session id of a stream opened on an empty log
 * (every log id is greater), and where a follower of an empty log starts.
 */
export const LOG_START = '0-0';

/**
 * Decides how to resume `userId` after `lastEventId`: the entries addressed to them with
 * lastEventId < id <= upTo (what the live follower has already dispatched; everything after it
 * reaches the connection live), or recovery.
 *
 * `LOG_START` resumes like any retained id while the log still holds its first entry, the first
 * thing the client missed: `firstId`, known to a hub that followed the log from empty (the log
 * itself cannot tell whether entries before its oldest one were trimmed). Without `firstId` it
 * is `trimmed`, unless nothing was dispatched yet (then there is nothing to replay).
 *
 * HISTORY_TTL_MS applies to what the client missed, not to its id: the age of the id is how long
 * the log was quiet, not how long the client was away (a stream's session id is the last entry's,
 * however old). A gap that holds nothing for the user is an empty replay; one whose oldest entry
 * for the user is older than the TTL is `expired` (older history is never replayed).
 */
export async function planResume(input: {
  log: NotificationLog;
  userId: string;
  /** The other trainers the user may move: group notifications reach them through those too. */
  trainerIds?: readonly string[];
  lastEventId: string;
  upTo: string;
  historySize: number;
  /** At most this many entries of the gap are read (addressed to anyone); beyond: recovery. */
  historyScanLimit: number;
  historyTtlMs: number;
  /**
   * The time the entries' ages are measured at, on the clock their ids carry: the server's
   * (a ServerClock over Redis, whose `XADD` stamps them), never this host's (session 30).
   */
  now: number;
  /** The id of the first entry the log ever held, if known. */
  firstId?: string;
  /** Told the number of entries of each page read: what the resume cost (to charge it). */
  onRead?: (entries: number) => void;
  /**
   * Which of the user's entries the stream shows (a StreamView's `accepts`; default all): the
   * others are neither replayed nor counted against `historySize` or the TTL.
   */
  accepts?: (notification: LoggedNotification['notification']) => boolean;
}): Promise<ResumePlan> {
  const { log, lastEventId, upTo } = input;
  const after = log.compare(lastEventId, upTo);
  if (after > 0) {
    // This instance's follower may lag the log by more than SseHub.caughtUp waits (a loaded
    // gateway taking over a dead one's clients): an id the log holds is no unknown position.
    // An id retention removed since (lastAppendedId, not latestId) is a position too.
    const latest = await log.lastAppendedId();
    return latest !== undefined && log.compare(lastEventId, latest) <= 0
      ? { kind: 'ahead' }
      : { kind: 'recovery', reason: 'unknown-position' };
  }
  // The routine reconnect of a client that missed nothing: no read at all.
  if (after === 0) return { kind: 'replay', entries: [] };
  if (log.compare(lastEventId, LOG_START) === 0 && log.compare(upTo, LOG_START) === 0)
    return { kind: 'replay', entries: [] };
  if (await trimmedAfter(log, lastEventId, input.firstId))
    return { kind: 'recovery', reason: 'trimmed' };
  const plan = await readGap(input);
  // The log is trimmed from its oldest end only: if it still holds everything after the
  // client's id now, it did throughout the reads above. A trim between the check before them
  // and a read would otherwise hide the entries it took, and the replay say nothing else was
  // missed. (A replay that finds nothing for the user checks too: what went may have been.)
  if (plan.kind === 'replay' && (await trimmedAfter(log, lastEventId, input.firstId)))
    return { kind: 'recovery', reason: 'trimmed' };
  return plan;
}

/**
 * Whether entries that came after `lastEventId` may be gone from the log: the id is older
 * than its oldest entry and the trimming (or a loss) may have taken entries after it, or
 * (LOG_START) the log no longer starts with its first entry.
 */
async function trimmedAfter(
  log: NotificationLog,
  lastEventId: string,
  firstId: string | undefined,
): Promise<boolean> {
  if (log.compare(lastEventId, LOG_START) === 0) {
    if (firstId === undefined) return true;
    const oldest = await log.oldestId();
    return oldest === undefined || log.compare(oldest, firstId) !== 0;
  }
  const oldest = await log.oldestId();
  if (oldest === undefined || log.compare(lastEventId, oldest) >= 0) return false;
  // Older than the oldest entry. A log quiet for longer than its retention trims, on its next
  // append, the entry every connected client holds: when the newest entry the trimming took is
  // at or before the id, the client had all it took, and what else is gone was removed.
  const trimmed = await log.trimmedThrough();
  return trimmed === undefined || log.compare(trimmed, lastEventId) > 0;
}

/** Whether the log appended `id` or later, whether or not it still holds that entry. */
async function reached(log: NotificationLog, id: string): Promise<boolean> {
  const last = await log.lastAppendedId();
  return last !== undefined && log.compare(last, id) >= 0;
}

/** The entries of the gap addressed to the user, or why they cannot be replayed. */
async function readGap(input: Parameters<typeof planResume>[0]): Promise<ResumePlan> {
  const { log, lastEventId, upTo } = input;
  const entries: LoggedNotification[] = [];
  let from = lastEventId;
  let scanned = 0;
  for (;;) {
    const page = await log.read(from, Math.min(PAGE, input.historyScanLimit - scanned + 1));
    input.onRead?.(page.length);
    for (const entry of page) {
      if (log.compare(entry.id, upTo) > 0) return { kind: 'replay', entries };
      if (++scanned > input.historyScanLimit) return { kind: 'recovery', reason: 'scan-limit' };
      if (!isAddressedTo(entry.notification, input.userId, input.trainerIds)) continue;
      if (input.accepts && !input.accepts(entry.notification)) continue;
      // The first one is the oldest the user missed.
      if (entries.length === 0 && input.now - logIdTime(entry.id) > input.historyTtlMs)
        return { kind: 'recovery', reason: 'expired' };
      entries.push(entry);
      if (entries.length > input.historySize)
        return { kind: 'recovery', reason: 'too-many-missed' };
    }
    // The log ends before what the live follower dispatched: entries after the client's id
    // are gone (the log was emptied and started again, Redis having lost its data), and what
    // they were cannot be told. Replaying the rest would say "nothing else missed". Unless the
    // log still reached upTo (lastAppendedId survives removal, not a loss): then the entries
    // were removed on purpose (a deleted task's progress, S3-7), and nothing is missing.
    if (page.length === 0)
      return log.compare(from, upTo) < 0 && !(await reached(log, upTo))
        ? { kind: 'recovery', reason: 'trimmed' }
        : { kind: 'replay', entries };
    if (log.compare(page[page.length - 1]!.id, upTo) >= 0) return { kind: 'replay', entries };
    from = page[page.length - 1]!.id;
  }
}
