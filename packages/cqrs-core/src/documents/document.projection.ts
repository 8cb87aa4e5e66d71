import { type Projection } from '../projections/projection.port';
import { type ReadRow, type ReadStore } from '../read-stores/read-store.port';
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
 * redelivered event changes nothing (ReadStore.put). Run it with a ProjectionRunner, which
 * applies a stream's events in order; `reset` clears the rows for a rebuild.
 *
 * Hazard: an `Updated` whose row is missing (the projection started after the document's
 * `Created` was removed by retention) is applied to an empty row: the row then holds only the
 * fields that changed since. Rebuild from a log that still has every document's `Created`.
 */
export function documentProjection<T extends object>(
  collection: DocumentCollection<T>,
  rows: ReadStore<ReadRow>,
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
        const base = isJsonObject(row) ? (row as JsonObject) : {};
        await rows.put(id, applyMergePatch(base, event.data.patch) as JsonObject, { version });
      } else if (deleted.is(event)) await rows.delete(id, { version });
    },
    reset: () => rows.clear(),
  };
}
