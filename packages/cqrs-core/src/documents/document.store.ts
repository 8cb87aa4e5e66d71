import { z } from 'zod';
import { shownValue } from '../config/shown-value';
import { isWellFormed, NOT_WELL_FORMED } from '../config/well-formed';
import { type DomainEvent } from '../domain/domain-event';
import { ConcurrencyConflictError } from '../event-store/event-store.errors';
import { type EventStore } from '../event-store/event-store.port';
import { type Metadata } from '../messages/envelope';
import { type MessageFactory } from '../messages/message.factory';
import {
  EventSourcedRepository,
  type LoadedStream,
  type SnapshotFailure,
  type SnapshotSettings,
  type StateModel,
} from '../repository/event-sourced.repository';
import { retryOnConflict, type RetryOnConflictOptions } from '../repository/retry-on-conflict';
import {
  type DocumentChange,
  type DocumentCollection,
  type DocumentDiff,
} from './document.collection';
import { DocumentHistoryError, DocumentValidationError } from './document.errors';
import { checkDocumentStoreOptions } from './document.store.options';
import { jsonDocumentOf, type JsonObject, withoutNullMembers } from './json.document';
import { applyMergePatch, mergePatchOf } from './merge-patch';
import { MAX_ROW_BYTES } from '../read-stores/read-store.port';
import { rowBytesBound } from '../read-stores/read-store.rules';

export interface DocumentStoreOptions {
  /** Where the documents' events are stored: any EventStore (in-memory, MongoDB, Redis). */
  eventStore: EventStore;
  /** Snapshots of documents with long histories; the state snapshotted is the document. */
  snapshots?: SnapshotSettings;
  /** Creates the event envelopes; default: system clock and random ids. */
  messages?: MessageFactory;
  /**
   * Retries of a write whose document changed since it was read (no `expectedVersion` given):
   * read again, call the change function again, write again. Default retryOnConflict's: 5
   * attempts in all, jittered exponential backoff from 10 ms.
   */
  retry?: RetryOnConflictOptions;
  /** A snapshot failed to load or save (the read or write went on without it). */
  onSnapshotError?: (error: unknown, failure: SnapshotFailure) => void;
}

/** A document as stored. */
export interface StoredDocument<T> {
  readonly id: string;
  /** The version of the document's stream: the expected version of a write based on it. */
  readonly version: number;
  readonly document: T;
}

export interface DocumentWriteOptions {
  /**
   * The version the caller's change is based on (an HTTP `If-Match`): a document at another
   * version throws ConcurrencyConflictError and nothing is retried or written. 0 = the document
   * does not exist: never written, or deleted (its stream's version goes on, and `get` answers
   * undefined). Without it a conflict is retried (see DocumentStoreOptions.retry).
   * @throws TypeError when it is not a non-negative integer
   */
  expectedVersion?: number;
  /** Extra metadata for every event of the write (e.g. the caller as `issuerId`). */
  metadata?: Partial<Metadata>;
  /**
   * The id of the command the write is for (its messageId; the events' `causationId`). The
   * events get ids derived from it and from the document (`commandEventId(commandId, i,
   * streamId)`: one command writing two documents gives each its own), and a write whose command
   * was applied to the document already — a redelivery, even after later changes, even when the
   * document is read from a snapshot — writes nothing and answers the document as stored
   * (`hasChanges` false), before `expectedVersion` is checked or `change` called.
   *
   * Hazard: a command whose change was no change wrote nothing, so nothing records it: when it is
   * delivered again after another command changed the document, it applies again. Make such
   * commands' changes idempotent, or put the deduplicator middleware in front of the handler.
   */
  commandId?: string;
}

/** What a write did: the change, and the events appended for it (none when nothing changed). */
export interface DocumentWrite<T> extends DocumentChange<T> {
  /**
   * The document's version after the write: its stream's, after the mapper's events too (the
   * `expectedVersion` of a write based on it). The stored version when nothing was written.
   */
  readonly version: number;
  /** The collection's own event first, then those of its `events` mapper; in stream order. */
  readonly events: readonly DomainEvent[];
  /** Their positions in the event store's global log. */
  readonly positions: readonly number[];
}

/** Called with a copy of the stored document (undefined when there is none); returns the new one. */
export type DocumentUpdater<T> = (
  current: T | undefined,
  context: { readonly version: number },
) => T | Promise<T>;

type State = JsonObject | undefined;

/** What `load` answers for a write whose command was applied already. */
const APPLIED = Symbol('applied');

/**
 * Event-sourced document storage (S4): documents with a version and optimistic concurrency whose
 * every change is stored as events — the collection's own `Created` / `Updated` (a JSON Merge
 * Patch) / `Deleted` event, then the events its mapper adds — in ONE append to the document's
 * stream (S4-4: the change and its events are one write, on every EventStore, without
 * transactions: there is no change without its events and no event without its change). The
 * document is the fold of its stream (a snapshot plus the events after it, as any aggregate).
 * To publish the events on a bus (in-memory, Redis Streams, Kafka: S4-5), run an EventForwarder
 * over the same event store: it delivers them at least once, in stream order per document.
 *
 * Queries across documents are not this store's job: build a read model from the events with a
 * Projection (a row per document: `applyMergePatch(row, event.data.patch)`).
 */
export class DocumentStore {
  /** Per collection name: the definition it was first used with, and its repository. */
  private readonly repositories = new Map<
    string,
    { collection: object; repository: EventSourcedRepository<State> }
  >();

  /** @throws TypeError naming an option the store could not work with (see checkDocumentStoreOptions) */
  constructor(private readonly options: DocumentStoreOptions) {
    checkDocumentStoreOptions(options);
  }

  /**
   * The document, or undefined when it was never written or is deleted.
   * @throws DocumentHistoryError when events it needs were removed (retention without snapshots)
   */
  async get<T>(
    collection: DocumentCollection<T>,
    id: string,
  ): Promise<StoredDocument<T> | undefined> {
    checkId(collection.name, id);
    const streamId = collection.streamIdOf(id);
    const loaded = await this.repositoryOf(collection).load(streamId);
    await this.checkHistory(streamId, loaded);
    if (loaded.state === undefined) return undefined;
    return { id, version: loaded.version, document: loaded.state as T };
  }

  /**
   * Reads the document, calls `change` with a copy of it (mutate it and return it, or return a
   * new one) and stores the result if it differs, as one append at the version read (S4-1).
   * Returns what was written; `hasChanges` false (and no events) when the result equals the
   * stored document.
   * @throws DocumentValidationError (the collection's schema) or TypeError (not a JSON object;
   *   `change` returned nothing) — nothing written; ConcurrencyConflictError when
   *   `expectedVersion` does not match, or the attempts ran out; whatever `change` throws
   */
  async update<T>(
    collection: DocumentCollection<T>,
    id: string,
    // The collection alone fixes T: inferred from `change` too, a document missing a field
    // (one with a schema default) was blamed on the collection, and an extra field passed.
    change: DocumentUpdater<NoInfer<T>>,
    options: DocumentWriteOptions = {},
  ): Promise<DocumentWrite<T>> {
    checkId(collection.name, id);
    const where = `${collection.name}/${id}`;
    return this.attempt(options, async () => {
      const loaded = await this.load(collection, id, options);
      if (loaded === APPLIED) return this.current(collection, id);
      const previous = loaded.state as T | undefined;
      const draft = previous === undefined ? undefined : (structuredClone(previous) as T);
      const returned = await change(draft, { version: loaded.version });
      if (returned === undefined || returned === null)
        throw new TypeError(
          `${where}: the change function returned ${String(returned)}; return the document (delete() removes it)`,
        );
      // Null members are removed before the schema sees the document, so that what is checked
      // is what is stored: a required nullable field fails here, at its first write.
      const next = jsonDocumentOf(
        validated(collection, id, withoutNullMembers(returned), returned),
        where,
      );
      const isNew = loaded.state === undefined;
      const mergePatch = isNew ? next : mergePatchOf(loaded.state!, next);
      if (!isNew && Object.keys(mergePatch).length === 0) return unchanged(collection, id, loaded);
      checkRowSize(collection, id, next);
      const own = isNew
        ? collection.created.of({ document: next })
        : collection.updated.of({ patch: mergePatch });
      const diff = { isNew, isDeleted: false, hasChanges: true, mergePatch };
      return this.write(collection, id, loaded, own, next, diff, options);
    });
  }

  /**
   * Deletes the document: appends the collection's `Deleted` event (and its mapper's events).
   * Its stream stays: the history is kept, and a later update creates the document again at the
   * next version. Deleting a document that does not exist writes nothing (`hasChanges` false).
   * @throws ConcurrencyConflictError as update
   */
  async delete<T>(
    collection: DocumentCollection<T>,
    id: string,
    options: DocumentWriteOptions = {},
  ): Promise<DocumentWrite<T>> {
    checkId(collection.name, id);
    return this.attempt(options, async () => {
      const loaded = await this.load(collection, id, options);
      if (loaded === APPLIED) return this.current(collection, id);
      if (loaded.state === undefined) return unchanged(collection, id, loaded);
      const diff = { isNew: false, isDeleted: true, hasChanges: true, mergePatch: {} };
      return this.write(
        collection,
        id,
        loaded,
        collection.deleted.of({}),
        undefined,
        diff,
        options,
      );
    });
  }

  private attempt<R>(options: DocumentWriteOptions, operation: () => Promise<R>): Promise<R> {
    // With an expected version a conflict is the answer (the caller's copy is stale): no retry.
    return options.expectedVersion === undefined
      ? retryOnConflict(operation, this.options.retry)
      : operation();
  }

  /**
   * The document's stream as loaded for a write, after the write's checks: APPLIED when the
   * write's command was applied already (found by the load, or before its snapshot), else the
   * stream, whose document exists or not as `expectedVersion` demands.
   * @throws ConcurrencyConflictError when it does not
   */
  private async load<T>(
    collection: DocumentCollection<T>,
    id: string,
    options: DocumentWriteOptions,
  ): Promise<LoadedStream<State> | typeof APPLIED> {
    const repository = this.repositoryOf(collection);
    const streamId = collection.streamIdOf(id);
    const { commandId, expectedVersion } = options;
    if (
      expectedVersion !== undefined &&
      !(Number.isSafeInteger(expectedVersion) && expectedVersion >= 0)
    )
      throw new TypeError(
        `${collection.name}/${id}: expectedVersion must be a non-negative integer, got ${shownValue(expectedVersion)}`,
      );
    const loaded = await repository.load(streamId, commandId === undefined ? {} : { commandId });
    await this.checkHistory(streamId, loaded);
    // Before the version check: a redelivered command whose document moved on since is done,
    // not a conflict (the probe's event only needs a type the store can serialize).
    if (
      commandId !== undefined &&
      (await repository.appliedBefore(loaded, commandId, collection.updated.of({ patch: {} })))
    )
      return APPLIED;
    if (expectedVersion !== undefined) {
      // 0: the document does not exist — never written, or deleted (its stream goes on).
      const holds =
        expectedVersion === 0 ? loaded.state === undefined : loaded.version === expectedVersion;
      if (!holds) throw new ConcurrencyConflictError(streamId, expectedVersion, loaded.version);
    }
    return loaded;
  }

  /**
   * A load that found nothing (no event, no snapshot) of a stream that has a version: every
   * event was removed (retention, truncation), not soft-deleted. The document may exist, and
   * answering "none" let `expectedVersion: 0` create it again over it.
   * @throws DocumentHistoryError
   */
  private async checkHistory(streamId: string, loaded: LoadedStream<State>): Promise<void> {
    if (loaded.version !== 0) return;
    const info = await this.options.eventStore.streamInfo(streamId);
    // Events readable now (firstVersion <= version) were appended since the load read none: a
    // writer creating the document meanwhile, not a cut (a write based on the load conflicts).
    if (info.state === 'active' && info.version > 0 && info.firstVersion > info.version)
      throw new DocumentHistoryError({ streamId, removedUpTo: info.version });
  }

  /** The document as stored, as a write that wrote nothing (its command was applied before). */
  private async current<T>(
    collection: DocumentCollection<T>,
    id: string,
  ): Promise<DocumentWrite<T>> {
    return unchanged(
      collection,
      id,
      await this.repositoryOf(collection).load(collection.streamIdOf(id)),
    );
  }

  private async write<T>(
    collection: DocumentCollection<T>,
    id: string,
    loaded: LoadedStream<State>,
    own: DomainEvent,
    next: JsonObject | undefined,
    diff: DocumentDiff,
    options: DocumentWriteOptions,
  ): Promise<DocumentWrite<T>> {
    const change: DocumentChange<T> = {
      collection: collection.name,
      id,
      version: loaded.version + 1,
      previous: loaded.state as T | undefined,
      document: next as T | undefined,
      diff,
    };
    const mapped = collection.options.events?.(change) ?? [];
    if (!Array.isArray(mapped))
      throw new TypeError(
        `documentCollection(${collection.name}): events must return an array of events, got ${typeof mapped}`,
      );
    // Checked here, before the append, so that a mapper's slip names itself (not "Cannot read
    // properties of undefined" from deep in the envelope code).
    (mapped as readonly unknown[]).forEach((event, index) => {
      if (
        typeof event !== 'object' ||
        event === null ||
        typeof (event as { type?: unknown }).type !== 'string'
      )
        throw new TypeError(
          `documentCollection(${collection.name}): events must return events ({ type, data }, as a message type's .of() makes); item ${index} is ${shownValue(event)}`,
        );
    });
    const events = [own, ...(mapped as readonly DomainEvent[])];
    const saved = await this.repositoryOf(collection).save(loaded, events, {
      ...(next !== undefined && { stateAfter: next }),
      ...(options.metadata && { metadata: options.metadata }),
      ...(options.commandId !== undefined && { commandId: options.commandId }),
    });
    // Every event stored already: the same command, delivered twice at once, won elsewhere.
    if (saved.commandEvents || (saved.positions ?? []).length === 0)
      return this.current(collection, id);
    return { ...change, version: saved.version, events, positions: saved.positions ?? [] };
  }

  private repositoryOf<T>(collection: DocumentCollection<T>): EventSourcedRepository<State> {
    const known = this.repositories.get(collection.name);
    if (known) {
      if (known.collection !== collection)
        throw new TypeError(
          `DocumentStore: two different definitions of the collection ${collection.name}; define each collection once and share it`,
        );
      return known.repository;
    }
    const repository = new EventSourcedRepository<State>(documentModel(collection), {
      eventStore: this.options.eventStore,
      aggregateType: collection.aggregateType,
      // One command may write several documents: their events' ids must differ.
      commandEventIds: 'per-stream',
      // A cut stream is checked by checkHistory and the fold (DocumentHistoryError).
      foldsCutStreams: true,
      ...(this.options.snapshots && { snapshots: this.options.snapshots }),
      ...(this.options.messages && { messages: this.options.messages }),
      ...(this.options.onSnapshotError && { onSnapshotError: this.options.onSnapshotError }),
    });
    this.repositories.set(collection.name, { collection, repository });
    return repository;
  }
}

/** The fold of a collection's own events; other events of the stream (the mapper's) pass. */
function documentModel<T>(collection: DocumentCollection<T>): StateModel<State, DomainEvent> {
  const { created, updated, deleted } = collection;
  return {
    initialState: () => undefined,
    evolve(state, events) {
      let document = state;
      // Whether a collection's own event of this fold decided the document. A stream's first
      // event, and the first after any snapshot, is always one (the mapper's follow theirs in
      // the same append): a mapper's event before it means retention cut the stream inside a
      // write, and the document before that cut, which may exist, cannot be told.
      let decided = false;
      for (const event of events) {
        if (created.is(event)) document = event.data.document;
        else if (updated.is(event)) {
          if (document === undefined) throw new DocumentHistoryError(event);
          document = applyMergePatch(document, event.data.patch) as JsonObject;
        } else if (deleted.is(event)) document = undefined;
        else if (!decided && document === undefined) throw new DocumentHistoryError(event);
        else continue;
        decided = true;
      }
      return document;
    },
    // A deleted document's snapshot holds null: a snapshot must be JSON.
    toSnapshot: (state) => ({ document: state ?? null }),
    fromSnapshot: (snapshot) => (snapshot as { document: JsonObject | null }).document ?? undefined,
  };
}

function unchanged<T>(
  collection: DocumentCollection<T>,
  id: string,
  loaded: LoadedStream<State>,
): DocumentWrite<T> {
  const document = loaded.state as T | undefined;
  return {
    collection: collection.name,
    id,
    version: loaded.version,
    previous: document,
    document,
    diff: { isNew: false, isDeleted: false, hasChanges: false, mergePatch: {} },
    events: [],
    positions: [],
  };
}

/**
 * Refuses a document whose read-store row would be over the collection's maxRowBytes: stored,
 * documentProjection's put of it would fail on every retry and halt the projection there.
 * @throws RangeError naming the document, its size and the option
 */
function checkRowSize<T>(collection: DocumentCollection<T>, id: string, document: JsonObject) {
  const max = collection.options.maxRowBytes ?? MAX_ROW_BYTES;
  if (max === Infinity) return;
  const json = JSON.stringify(document);
  // Cheap first: a row's bound is under 9 bytes per UTF-16 unit of its JSON, plus the rest.
  if (9 * json.length + 3 * id.length + 128 <= max) return;
  const size = rowBytesBound(id, json, document);
  if (size > max)
    throw new RangeError(
      `Document ${collection.name}/${id} would take ${size} bytes as a read-store row (its JSON, ` +
        `and its top-level strings again, as MongoReadStore keeps them), over the collection's ` +
        `maxRowBytes of ${max}: not written. Keep large values out of documents (or raise ` +
        'maxRowBytes when the rows are not kept in MongoDB)',
    );
}

function validated<T>(
  collection: DocumentCollection<T>,
  id: string,
  value: unknown,
  returned: unknown,
): unknown {
  const { schema } = collection.options;
  if (!schema) return value;
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  // A member the change set to null was removed before the check, so a `.nullable()` field
  // reads "received undefined": say where the null went and what to declare instead.
  const removed = valueAt(returned, path) === null;
  throw new DocumentValidationError(
    collection.name,
    id,
    path.map((key) => String(key)).join('.'),
    (issue?.message ?? 'is invalid') +
      (removed
        ? ' (the change set it to null, and a document drops null members as a merge patch does: declare the field .optional() and leave it out, not .nullable())'
        : ''),
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * @throws TypeError when `id` is not a non-empty string without control characters, or is not
 *   well-formed Unicode (a lone surrogate: the event stores refuse such a stream id, checkStreamId)
 */
function checkId(collection: string, id: unknown): asserts id is string {
  // eslint-disable-next-line no-control-regex
  if (typeof id !== 'string' || id.length === 0 || /[\u0000-\u001f\u007f]/.test(id))
    throw new TypeError(
      `${collection}: a document id must be a non-empty string without control characters, got ${JSON.stringify(id) ?? String(id)}`,
    );
  if (!isWellFormed(id))
    throw new TypeError(
      `${collection}: a document id ${NOT_WELL_FORMED}, got ${JSON.stringify(id)}`,
    );
}
