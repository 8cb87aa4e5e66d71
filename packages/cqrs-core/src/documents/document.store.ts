import { z } from 'zod';
import { type DomainEvent } from '../domain/domain-event';
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
import { DocumentValidationError } from './document.errors';
import { jsonDocumentOf, type JsonObject } from './json.document';
import { applyMergePatch, mergePatchOf } from './merge-patch';

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
   * version throws ConcurrencyConflictError and nothing is retried or written; 0 = it must not
   * exist yet. Without it a conflict is retried (see DocumentStoreOptions.retry).
   */
  expectedVersion?: number;
  /** Extra metadata for every event of the write (e.g. the caller as `issuerId`). */
  metadata?: Partial<Metadata>;
  /**
   * The id of the command the write is for: its events get ids derived from it, and a second
   * write with the same command id (a redelivered command) writes nothing (`hasChanges` false).
   */
  commandId?: string;
}

/** What a write did: the change, and the events appended for it (none when nothing changed). */
export interface DocumentWrite<T> extends DocumentChange<T> {
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

  constructor(private readonly options: DocumentStoreOptions) {}

  /** The document, or undefined when it was never written or is deleted. */
  async get<T>(
    collection: DocumentCollection<T>,
    id: string,
  ): Promise<StoredDocument<T> | undefined> {
    checkId(collection.name, id);
    const loaded = await this.repositoryOf(collection).load(collection.streamIdOf(id));
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
    change: DocumentUpdater<T>,
    options: DocumentWriteOptions = {},
  ): Promise<DocumentWrite<T>> {
    checkId(collection.name, id);
    const where = `${collection.name}/${id}`;
    return this.attempt(options, async () => {
      const loaded = await this.load(collection, id, options);
      const previous = loaded.state as T | undefined;
      if (loaded.commandEvents) return unchanged(collection, id, loaded);
      const draft = previous === undefined ? undefined : (structuredClone(previous) as T);
      const returned = await change(draft, { version: loaded.version });
      if (returned === undefined || returned === null)
        throw new TypeError(
          `${where}: the change function returned ${String(returned)}; return the document (delete() removes it)`,
        );
      const next = jsonDocumentOf(validated(collection, id, returned), where);
      const isNew = loaded.state === undefined;
      const mergePatch = isNew ? next : mergePatchOf(loaded.state!, next);
      if (!isNew && Object.keys(mergePatch).length === 0) return unchanged(collection, id, loaded);
      const own = isNew
        ? collection.created.of({ document: next })
        : collection.updated.of({ patch: mergePatch });
      return this.write(
        collection,
        id,
        loaded,
        own,
        next,
        {
          isNew,
          isDeleted: false,
          hasChanges: true,
          mergePatch,
        },
        options,
      );
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
      if (loaded.state === undefined || loaded.commandEvents)
        return unchanged(collection, id, loaded);
      return this.write(
        collection,
        id,
        loaded,
        collection.deleted.of({}),
        undefined,
        {
          isNew: false,
          isDeleted: true,
          hasChanges: true,
          mergePatch: {},
        },
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

  private load<T>(
    collection: DocumentCollection<T>,
    id: string,
    options: DocumentWriteOptions,
  ): Promise<LoadedStream<State>> {
    return this.repositoryOf(collection).load(collection.streamIdOf(id), {
      ...(options.expectedVersion !== undefined && { expectedVersion: options.expectedVersion }),
      ...(options.commandId !== undefined && { commandId: options.commandId }),
    });
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
    const events = [own, ...(mapped as readonly DomainEvent[])];
    const saved = await this.repositoryOf(collection).save(loaded, events, {
      ...(next !== undefined && { stateAfter: next }),
      ...(options.metadata && { metadata: options.metadata }),
      ...(options.commandId !== undefined && { commandId: options.commandId }),
    });
    if (saved.commandEvents) return unchanged(collection, id, saved);
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
      for (const event of events) {
        if (created.is(event)) document = event.data.document;
        else if (updated.is(event))
          document = applyMergePatch(document ?? {}, event.data.patch) as JsonObject;
        else if (deleted.is(event)) document = undefined;
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

function validated<T>(collection: DocumentCollection<T>, id: string, value: T): unknown {
  const { schema } = collection.options;
  if (!schema) return value;
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new DocumentValidationError(
    collection.name,
    id,
    issue ? issue.path.map((key) => String(key)).join('.') : '',
    issue?.message ?? 'is invalid',
  );
}

/** @throws TypeError when `id` is not a non-empty string without control characters */
function checkId(collection: string, id: unknown): asserts id is string {
  // eslint-disable-next-line no-control-regex
  if (typeof id !== 'string' || id.length === 0 || /[\u0000-\u001f\u007f]/.test(id))
    throw new TypeError(
      `${collection}: a document id must be a non-empty string without control characters, got ${JSON.stringify(id) ?? String(id)}`,
    );
}
