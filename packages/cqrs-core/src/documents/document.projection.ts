import { type Projection } from '../projections/projection.port';
import { type ReadStore } from '../read-stores/read-store.port';
import { type DocumentCollection } from './document.collection';
import { isJsonObject, type JsonObject } from './json.document';
import { applyMergePatch } from './merge-patch';

export interface DocumentProjectionOptions {
  /** The projection's name (its checkpoint). Default `documents-<collection>`. */
  name?: string;
}

/**
 * A projection that keeps every document of `collection` as a row of `rows`, keyed by its id:
 * the queryable side of a document store (`find`, `count`, `countBy` across documents, which
 * the DocumentStore itself does not do). `Created` writes the document, `Updated` applies its
 * patch to the row, `Deleted` removes it; each write carries the event's stream version, so a
 * redelivered event changes nothing (ReadStore.put). Every row fits any store: the collection
 * refuses a document whose row would be over its `maxRowBytes` (MongoDB's 16 MiB as
 * MongoReadStore fills it) before writing it. Run it with a ProjectionRunner, which
 * applies a stream's events in order; `reset` clears the rows for a rebuild.
 *
 * An `Updated` whose row is missing is passed over: it is the redelivery of a change to a
 * document deleted since (a runner restarting from an older checkpoint replays the document's
 * events in order, and its `Deleted` follows), and applying its patch to nothing would show,
 * until then, a document made of the changed fields only. So a document whose `Created` is no
 * longer in the log (retention without snapshots) gets no row: rebuild from a log that still
 * has every document's `Created`.
 */
export function documentProjection<T extends object>(
  collection: DocumentCollection<T>,
  rows: ReadStore<object>,
  options: DocumentProjectionOptions = {},
): Projection {
  const { created, updated, deleted } = collection;
  return {
    name: options.name ?? `documents-${collection.name}`,
    types: collection.messageTypes,
    async apply(event) {
      const id = collection.idOf(event.streamId);
      if (id === undefined) return; // the same event type in another collection's stream
      const version = event.version;
      if (created.is(event)) await rows.put(id, event.data.document, { version });
      else if (updated.is(event)) {
        const row = await rows.get(id);
        if (!isJsonObject(row)) return; // deleted since (see above)
        await rows.put(id, applyMergePatch(row as JsonObject, event.data.patch) as JsonObject, {
          version,
        });
      } else if (deleted.is(event)) await rows.delete(id, { version });
    },
    reset: () => rows.clear(),
  };
}
