import { z } from 'zod';
import { shownValue } from '../config/shown-value';
import { type DomainEvent } from '../domain/domain-event';
import { assertSchema, messageType, type MessageType } from '../messages/message.type';
import { type JsonObject } from './json.document';

/** What a write did to a document: the seed's Diff (S4-2). */
export interface DocumentDiff {
  /** The document did not exist (never, or deleted) before this write. */
  readonly isNew: boolean;
  /** This write deleted the document. */
  readonly isDeleted: boolean;
  /** Anything was written: false when the new document equals the stored one (or a delete found none). */
  readonly hasChanges: boolean;
  /**
   * The JSON Merge Patch (RFC 7386) from the document before to the document after: the whole
   * document when it is new, `{}` when nothing changed or it was deleted.
   */
  readonly mergePatch: JsonObject;
}

/** A change of one document, as an event mapper sees it (before its events exist). */
export interface DocumentChange<T> {
  readonly collection: string;
  readonly id: string;
  /**
   * The stream version of the change's own event (`Created`, `Updated`, `Deleted`), at which
   * documentProjection writes the row. The mapper's events follow it, so the document's version
   * after the write (DocumentWrite's, `get`'s, the next `expectedVersion`) is this plus the
   * number of events the mapper returns: a mapper that needs it adds that number.
   */
  readonly version: number;
  /** The document before; undefined when it is new. */
  readonly previous: T | undefined;
  /** The document after; undefined when it was deleted. */
  readonly document: T | undefined;
  readonly diff: DocumentDiff;
}

export interface DocumentCollectionOptions<T> {
  /**
   * The aggregate type of the collection's streams and the stem of its event types.
   * Default: the name in PascalCase (`order_items` → `OrderItems`).
   */
  aggregateType?: string;
  /**
   * Validates every document written (not those read: a document stored under an older schema is
   * returned as it is); what is stored is the schema's output. Writing an invalid one throws
   * DocumentValidationError and writes nothing.
   */
  schema?: z.core.$ZodType<T>;
  /** The names of the collection's own events. Default `<aggregateType>Created|Updated|Deleted`. */
  eventTypes?: { created?: string; updated?: string; deleted?: string };
  /**
   * Events to append with each change, after the collection's own event (S4-3), e.g.
   * `UserEmailChanged` when the patch has `email`. They are appended in the same append as the
   * change, so they exist exactly when the change does. Pure: it may run more than once for one
   * write (a retry after a conflict). Register their types like any event's. An item that is no
   * event (undefined, null, no `type`) makes the write a TypeError naming the item; nothing is
   * written.
   */
  events?: (change: DocumentChange<T>) => readonly DomainEvent[];
  /**
   * The largest a document may be as a read-store row (documentProjection's), in bytes as the
   * largest store keeps it (MongoReadStore: its JSON, and its top-level strings again): a write
   * of a larger one is a RangeError naming the document and this option, and nothing is
   * written. Without it, the document would be stored, and documentProjection's put would
   * refuse its row on every retry, halting the projection there. Default MAX_ROW_BYTES
   * (MongoDB's 16 MiB); raise it only for rows kept in memory or on Redis. A positive integer
   * or Infinity.
   */
  maxRowBytes?: number;
}

/**
 * A collection of event-sourced documents (S4): its name, its events and how a write maps to
 * them. Each document is the stream `<name>-<id>`, its version the stream's version; the
 * collection's own events carry the document (`Created`), a JSON Merge Patch (`Updated`) or
 * nothing (`Deleted`), so replaying them gives the document back.
 */
export interface DocumentCollection<T> {
  readonly name: string;
  readonly aggregateType: string;
  /** `{ document }`: the document as created. */
  readonly created: MessageType<string, { document: JsonObject }>;
  /** `{ patch }`: the JSON Merge Patch from the previous version. */
  readonly updated: MessageType<string, { patch: JsonObject }>;
  /** `{}`: the document was deleted (a later write creates it again). */
  readonly deleted: MessageType<string, Record<string, never>>;
  /** The three above, to register with a SerializerRegistry. */
  readonly messageTypes: readonly MessageType[];
  readonly options: DocumentCollectionOptions<T>;
  /** The stream of document `id`. */
  streamIdOf(id: string): string;
  /** The document id of a stream of this collection (an event's `streamId`); else undefined. */
  idOf(streamId: string): string | undefined;
}

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Defines a document collection: `documentCollection('users', { schema: User })`, or
 * `documentCollection<User>('users')` without validation.
 * @throws TypeError when the name is not a letter followed by letters, digits or `_` (a `-`
 *   would make two collections' stream ids collide), or two event types are the same
 */
export function documentCollection<T extends object = JsonObject>(
  name: string,
  options: DocumentCollectionOptions<T> = {},
): DocumentCollection<T> {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name))
    throw new TypeError(
      `documentCollection: the name must be a letter followed by letters, digits or _, got ${JSON.stringify(name)}`,
    );
  if (options.schema !== undefined)
    assertSchema(`documentCollection(${name}): options.schema`, options.schema);
  const aggregateType = options.aggregateType ?? pascalCase(name);
  const names = {
    created: options.eventTypes?.created ?? `${aggregateType}Created`,
    updated: options.eventTypes?.updated ?? `${aggregateType}Updated`,
    deleted: options.eventTypes?.deleted ?? `${aggregateType}Deleted`,
  };
  if (new Set(Object.values(names)).size !== 3)
    throw new TypeError(
      `documentCollection(${name}): the created, updated and deleted event types must differ, got ${Object.values(names).join(', ')}`,
    );
  const { maxRowBytes } = options;
  if (
    maxRowBytes !== undefined &&
    maxRowBytes !== Infinity &&
    (!Number.isSafeInteger(maxRowBytes) || maxRowBytes < 1)
  )
    throw new TypeError(
      `documentCollection(${name}): options.maxRowBytes must be a positive integer or Infinity, got ${shownValue(maxRowBytes)}`,
    );
  const json = z.record(z.string(), z.unknown()) as z.ZodType<JsonObject>;
  const created = messageType(names.created, z.object({ document: json }));
  const updated = messageType(names.updated, z.object({ patch: json }));
  const deleted = messageType(
    names.deleted,
    z.object({}).strip() as z.ZodType<Record<string, never>>,
  );
  return Object.freeze({
    name,
    aggregateType,
    created,
    updated,
    deleted,
    messageTypes: Object.freeze([created, updated, deleted] as MessageType[]),
    options,
    streamIdOf: (id: string) => `${name}-${id}`,
    idOf: (streamId: string) =>
      streamId.startsWith(`${name}-`) && streamId.length > name.length + 1
        ? streamId.slice(name.length + 1)
        : undefined,
  });
}

function pascalCase(name: string): string {
  return name
    .split('_')
    .filter((part) => part.length > 0)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
