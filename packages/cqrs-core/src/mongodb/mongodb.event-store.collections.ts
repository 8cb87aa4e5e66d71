import { type mongo } from 'mongoose';
import { type BeaconDocument } from './mongodb.commit-log';
import { type CommitDocument, type StreamDocument } from './mongodb.event-store.documents';

/**
 * Creates the event store's collections and indexes (idempotent, safe from several processes at
 * once). Only plain and unique indexes: FerretDB has no partial, sparse or TTL ones.
 * - `<prefix>commits`: `_id` = slot (unique), (streamId, firstVersion) unique for optimistic
 *   concurrency, (streamId, lastVersion) for reads from a version (a load after a snapshot reads
 *   only the commits after it, not the whole stream), (streamId, messageIds) for idempotency,
 *   (types, _id) for readAll by type;
 * - `<prefix>streams`: per-stream state changed by deletions, by `_id` = streamId;
 * - `<prefix>meta`: the slot beacon.
 */
export async function createEventStoreCollections(db: mongo.Db, prefix: string) {
  const existing = new Set(
    (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
  );
  for (const name of ['commits', 'streams', 'meta']) {
    if (!existing.has(prefix + name)) {
      await db.createCollection(prefix + name).catch((error: unknown) => {
        // Another process created it in the meantime (NamespaceExists).
        if ((error as { code?: unknown }).code !== 48) throw error;
      });
    }
  }
  const commits = db.collection<CommitDocument>(`${prefix}commits`);
  await commits.createIndex(
    { streamId: 1, firstVersion: 1 },
    { unique: true, name: 'stream_version' },
  );
  await commits.createIndex({ streamId: 1, lastVersion: 1 }, { name: 'stream_last' });
  await commits.createIndex({ streamId: 1, messageIds: 1 }, { name: 'stream_messages' });
  await commits.createIndex({ types: 1, _id: 1 }, { name: 'types_slot' });
  return {
    commits,
    streams: db.collection<StreamDocument>(`${prefix}streams`),
    meta: db.collection<BeaconDocument>(`${prefix}meta`),
  };
}
