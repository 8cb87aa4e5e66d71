import { randomUUID } from 'node:crypto';
import { type mongo } from 'mongoose';
import { type RetentionPolicy } from '../event-store/event-store.port';
import { isDuplicateKey } from './mongodb.commit-log';
import {
  type CommitDocument,
  type DeleteMarkDocument,
  positionOf,
  type StreamDocument,
} from './mongodb.event-store.documents';

interface Collections {
  commits: mongo.Collection<CommitDocument>;
  streams: mongo.Collection<StreamDocument>;
}

/**
 * Updates a stream's document, creating it if need be. Two first upserts of one stream can race
 * (on MongoDB as on FerretDB): the loser's insert is refused by the `_id` index, and the update
 * is made again, now of the document the winner created.
 */
export async function upsertStream<T extends { _id: string }>(
  streams: mongo.Collection<T>,
  streamId: string,
  update: mongo.UpdateFilter<T>,
): Promise<void> {
  try {
    await streams.updateOne({ _id: streamId } as mongo.Filter<T>, update, { upsert: true });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    await streams.updateOne({ _id: streamId } as mongo.Filter<T>, update);
  }
}

/** Marks of half-done removals one applyRetention run finishes (the rest: the next run). */
export const DELETES_FINISHED_PER_RUN = 100;

/**
 * Marks one applyRetention run reads at most, oldest first: the young marks of removals still
 * running (or of hard deletes that never wrote their tombstone) are skipped without counting
 * against DELETES_FINISHED_PER_RUN, and only this many of them can delay a killed removal's mark
 * to a later run.
 */
export const DELETE_MARKS_READ_PER_RUN = 1_000;

/**
 * How old a mark on a stream without a tombstone must be before it is dropped: a hard delete
 * that never wrote its tombstone (its process died, the expected version failed on a retry),
 * or a soft delete or truncate whose process died; a younger one may be a removal still running.
 */
export const ABANDONED_MARK_MS = 10 * 60_000;

/**
 * Marks a removal under way (a hard delete before its tombstone, a soft delete or truncate
 * before its strip raises the stream's first version), so that a process dying before its strip
 * ends leaves a mark finishDeletes finds. Each removal has a mark of its own, removed by it alone
 * (unmarkRemoval): one mark per stream, shared, was taken away by whichever removal ended first —
 * a hard delete's end removed a soft delete's or truncate's still running, which, killed after
 * writing back events the delete had stripped (FerretDB, see stripStream), left them in
 * `readAll` for good (a review, session 43). Returns the mark's id.
 */
export async function markRemoval(
  deletes: mongo.Collection<DeleteMarkDocument>,
  streamId: string,
): Promise<string> {
  const _id = randomUUID();
  await deletes.insertOne({ _id, streamId, at: Date.now() });
  return _id;
}

/** Removes this removal's mark (markRemoval's answer): the marks of other removals stay. */
export async function unmarkRemoval(
  deletes: mongo.Collection<DeleteMarkDocument>,
  markId: string,
): Promise<void> {
  await deletes.deleteOne({ _id: markId });
}

/**
 * Finishes removals whose process died before their strip ended: a hard delete (after its
 * tombstone, a review, session 40), a soft delete or a truncate (after the stream's new first
 * version, a review, session 42). Reads of such a stream hide the events, but they stay in the
 * commits, in `readAll` and in subscriptions for good. Each removal marks its stream in
 * `<prefix>deletes` first and removes the mark when its strip is done, so the marked streams are
 * the only ones to look at: oldest first, at most `limit` of them finished or dropped, never a
 * scan of the commits. A young mark without a tombstone (a removal still running, or a hard
 * delete that never wrote its tombstone, dropped once ABANDONED_MARK_MS old) does not count
 * against `limit`: many of them must not hide a killed removal's mark behind them (a review,
 * session 42); at most `maxRead` marks are read. A tombstoned
 * stream loses every event; another loses those below its first readable version, which its
 * removal raised before it stripped (harmless if that removal is still running: the strip is
 * the same). Returns how many events were removed.
 */
export async function finishDeletes(
  collections: Collections & { deletes: mongo.Collection<DeleteMarkDocument> },
  readHead: (
    streamId: string,
  ) => Promise<{ version: number; firstVersion: number; tombstoned: boolean }>,
  limit = DELETES_FINISHED_PER_RUN,
  maxRead = DELETE_MARKS_READ_PER_RUN,
): Promise<number> {
  let removed = 0;
  let finished = 0;
  const marks = await collections.deletes.find().sort({ at: 1, _id: 1 }).limit(maxRead).toArray();
  for (const mark of marks) {
    if (finished >= limit) break;
    // A mark written before session 43 has no streamId: its `_id` is the stream's.
    const streamId = mark.streamId ?? mark._id;
    const head = await readHead(streamId);
    if (head.tombstoned) removed += await stripStream(collections, streamId, head.version + 1);
    else {
      // Nothing can be below a first version of 1 (a hard delete before its tombstone, a mark
      // of a stream that does not exist): no strip, which would also write a stream document.
      if (head.firstVersion > 1)
        removed += await stripStream(collections, streamId, head.firstVersion);
      // A young mark may be a hard delete about to write its tombstone: it stays until then.
      if (mark.at > Date.now() - ABANDONED_MARK_MS) continue;
    }
    // Only this mark (one of a removal made again meanwhile is its own), and only as it was
    // read: a hard delete of before session 43 may have set a newer time on it since.
    await collections.deletes.deleteOne({ _id: mark._id, at: mark.at });
    finished++;
  }
  return removed;
}

/** Passes of stripStream over commits another removal changed while it wrote. */
const STRIP_PASSES = 5;

/**
 * Removes the events of a stream before `before`: first raises the stream's first readable
 * version (reads of the stream hide those events from then on), then empties them out of their
 * commit documents, which stay behind as stubs (a deleted commit would free its slot and its
 * versions for a late writer). Returns how many events were removed (two removals racing on a
 * stream may both count the same events).
 *
 * Removals race on one stream (retention, truncate, soft and hard deletes, from any instance):
 * one that read a commit before another emptied it could write back events the other took —
 * into a tombstoned stream's commits, readable by `readAll` for good (a review, session 36).
 * Two guards. A commit is rewritten only if it still holds as many events as when it was read
 * (events only ever leave a commit from its front), which closes the race on MongoDB; FerretDB
 * does not apply an update atomically with its filter, so after writing, the stream's first
 * readable version is read again: every removal raises it before it reads, so one that ran
 * meanwhile shows there, and its cut is made again. Both repeat for up to STRIP_PASSES passes.
 */
export async function stripStream(
  { commits, streams }: Collections,
  streamId: string,
  before: number,
): Promise<number> {
  await upsertStream(streams, streamId, { $max: { firstVersion: before } });
  let removed = 0;
  let cut = before;
  for (let pass = 0; pass < STRIP_PASSES; pass++) {
    const operations: mongo.AnyBulkWriteOperation<CommitDocument>[] = [];
    let count = 0;
    for await (const commit of commits.find({ streamId, firstVersion: { $lt: cut } })) {
      if (commit.events.length === 0) continue;
      const kept = commit.events.filter((e) => e.version >= cut);
      if (kept.length === commit.events.length) continue;
      count += commit.events.length - kept.length;
      operations.push({
        updateOne: {
          filter: { _id: commit._id, events: { $size: commit.events.length } },
          update: {
            $set: {
              events: kept,
              messageIds: kept.map((e) => e.messageId),
              types: [...new Set(kept.map((e) => e.type))],
            },
          },
        },
      });
    }
    if (operations.length === 0) break;
    const result = await commits.bulkWrite(operations, { ordered: false });
    removed += count;
    const first = (await streams.findOne({ _id: streamId }))?.firstVersion ?? cut;
    if (result.matchedCount === operations.length && first <= cut) break;
    cut = Math.max(cut, first);
  }
  return removed;
}

/**
 * Where each stream matching the policy must be cut: after at most `maxCount` most recent events,
 * and after the oldest run of events older than `maxAgeMs` (only a prefix, so versions never get
 * holes). Reads every commit of the matching streams: run it from a periodic job and narrow it
 * with `streamPrefix` on large stores.
 */
/** The version of a stream's first event after `maxPosition` (none: Infinity). */
function firstAfter(commits: readonly CommitDocument[], maxPosition: number | undefined): number {
  if (maxPosition === undefined) return Infinity;
  for (const commit of commits)
    for (const event of commit.events)
      if (positionOf(commit._id, event.index) > maxPosition) return event.version;
  return Infinity;
}

export async function streamsForRetention(
  { commits, streams }: Collections,
  policy: RetentionPolicy,
): Promise<{ streamId: string; before: number }[]> {
  const cutoff = policy.maxAgeMs === undefined ? undefined : Date.now() - policy.maxAgeMs;
  const filter: mongo.Filter<CommitDocument> =
    policy.streamPrefix === undefined
      ? {}
      : { streamId: { $regex: `^${policy.streamPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` } };
  const byStream = new Map<string, CommitDocument[]>();
  for await (const commit of commits.find(filter)) {
    const list = byStream.get(commit.streamId) ?? [];
    list.push(commit);
    byStream.set(commit.streamId, list);
  }
  const firsts = new Map<string, number>();
  for (const stream of await streams.find({ _id: { $in: [...byStream.keys()] } }).toArray()) {
    if (stream.firstVersion !== undefined) firsts.set(stream._id, stream.firstVersion);
  }
  const cuts: { streamId: string; before: number }[] = [];
  for (const [streamId, list] of byStream) {
    list.sort((a, b) => a.firstVersion - b.firstVersion);
    const top = list[list.length - 1];
    if (!top) continue;
    if (top.tombstone) {
      // Events a hard delete left behind (a removal racing it on FerretDB, or the delete
      // stopped between its tombstone and its strip): every one goes, whatever the policy.
      if (list.some((c) => c.events.length > 0)) cuts.push({ streamId, before: top.firstVersion });
      continue;
    }
    const first = firsts.get(streamId) ?? 1;
    let before = first;
    if (policy.maxCount !== undefined)
      before = Math.max(before, top.lastVersion - policy.maxCount + 1);
    if (cutoff !== undefined) {
      const events = list.flatMap((c) => c.events).filter((e) => e.version >= first);
      for (const event of events) {
        if (event.at === null || event.at >= cutoff) break;
        before = Math.max(before, event.version + 1);
      }
    }
    // Events below the first readable version, left behind by racing removals (stripStream),
    // are cut too: up to the first readable version, and never past maxPosition either.
    const cut = Math.min(
      Math.max(before, first),
      top.lastVersion + 1,
      firstAfter(list, policy.maxPosition),
    );
    const below = list.some((c) => c.events.some((e) => e.version < cut));
    if (cut > first || below) cuts.push({ streamId, before: cut });
  }
  return cuts;
}
