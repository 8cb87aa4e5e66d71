import { type mongo } from 'mongoose';
import { type BeaconDocument } from './mongodb.commit-log';
import {
  type CommitDocument,
  type DeleteMarkDocument,
  type StreamDocument,
} from './mongodb.event-store.documents';
import { ensureIndexes, type IndexSpec } from './mongodb.indexes';

/**
 * Creates the event store's collections and the indexes they lack (idempotent, safe from several
 * processes at once; see ensureIndexes). Only plain and unique indexes: FerretDB has no partial,
 * sparse or TTL ones.
 * - `<prefix>commits`: `_id` = slot (unique), (streamId, firstVersion) unique for optimistic
 *   concurrency, (streamId, lastVersion) for reads from a version (a load after a snapshot reads
 *   only the commits after it, not the whole stream), (streamId, messageIds) for idempotency,
 *   (types, _id) for readAll by type;
 * - `<prefix>streams`: per-stream state changed by deletions, by `_id` = streamId;
 * - `<prefix>deletes`: deletes and truncates under way (their strip not yet done), one mark per
 *   removal (`_id` its own UUID, `streamId`, `at`; one of before session 43: `_id` = streamId);
 * - `<prefix>meta`: the slot beacon.
 */
export async function createEventStoreCollections(db: mongo.Db, prefix: string) {
  const existing = new Set(
    (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
  );
  for (const name of ['commits', 'streams', 'deletes', 'meta']) {
    if (!existing.has(prefix + name)) {
      await db.createCollection(prefix + name).catch((error: unknown) => {
        // Another process created it in the meantime (NamespaceExists).
        if ((error as { code?: unknown }).code !== 48) throw error;
      });
    }
  }
  const commits = db.collection<CommitDocument>(`${prefix}commits`, DURABLE);
  await ensureIndexes(commits, COMMIT_INDEXES);
  return {
    commits,
    streams: db.collection<StreamDocument>(`${prefix}streams`, DURABLE),
    deletes: db.collection<DeleteMarkDocument>(`${prefix}deletes`, DURABLE),
    meta: db.collection<BeaconDocument>(`${prefix}meta`, DURABLE),
  };
}

export const COMMIT_INDEXES: readonly IndexSpec[] = [
  { name: 'stream_version', keys: { streamId: 1, firstVersion: 1 }, unique: true },
  { name: 'stream_last', keys: { streamId: 1, lastVersion: 1 } },
  { name: 'stream_messages', keys: { streamId: 1, messageIds: 1 } },
  { name: 'types_slot', keys: { types: 1, _id: 1 } },
];

/**
 * How the event store reads and writes on a replica set: writes acknowledged by a majority,
 * reads of majority-committed data from the primary. The global log's invariant (slot s only
 * after s − 1) and every reader's position rely on what they saw never being rolled back by a
 * failover, which `w: 1` writes and `local` reads allow (docs/adr/003, session 8 addendum).
 * Pinned here so a deployment's defaults (w: 1 on a primary-secondary-arbiter set, a
 * secondary read preference in the URI) cannot weaken them. A standalone server and FerretDB
 * behave as before.
 */
export const DURABLE: mongo.CollectionOptions = {
  writeConcern: { w: 'majority' },
  readConcern: { level: 'majority' },
  readPreference: 'primary',
};
