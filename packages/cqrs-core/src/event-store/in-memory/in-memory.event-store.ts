import { type Envelope } from '../../messages/envelope';
import { JsonSerializer } from '../../messages/json.serializer';
import { type MessageSerializer, type SerializedEnvelope } from '../../messages/serializer.port';
import { storedTypeNames } from '../../messages/type.names';
import { ConcurrencyConflictError, StreamDeletedError } from '../event-store.errors';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StoredEvent,
  type StreamInfo,
  type Subscription,
  type SubscriptionOptions,
} from '../event-store.port';
import {
  checkAppendEvents,
  serializeForAppend,
  checkStreamId,
  checkAppendOptions,
  checkBeforeVersion,
  checkDeleteStreamOptions,
  checkDuplicates,
  checkReadAllOptions,
  checkReadStreamOptions,
  checkRetentionPolicy,
  type DeleteStreamOptions,
  expectationHolds,
  MISSING_HEAD,
  streamInfoOf,
  type StreamHead,
} from '../event-store.rules';
import { pollingSubscription } from '../polling.subscription';
import { decodeStoredEvent, storedEvent } from '../stored-event.decode';

/** One stored event: its serialized envelope (data as text, checksum in metadata) and where it lives. */
export interface InMemoryRecord {
  readonly streamId: string;
  readonly version: number;
  readonly position: number;
  /** Replaceable on purpose: tests corrupt it to prove checksums are verified on read. */
  serialized: SerializedEnvelope;
}

export interface InMemoryStream {
  head: StreamHead;
  /** Visible events in version order. */
  events: InMemoryRecord[];
  /** messageId → version, for visible events (idempotent re-appends). */
  ids: Map<string, number>;
}

/** The data of an in-memory store; several store instances may share one (like processes sharing a server). */
export interface InMemoryEventStorage {
  streams: Map<string, InMemoryStream>;
  /**
   * The events kept, in position order; a removed event leaves the array (positions have gaps,
   * never reused), so that it holds no more than the events a retention keeps: with a slot left
   * per removed event it grew by one per event ever appended (found with the embedded mode's
   * retention, session 48). Found by position with a binary search.
   */
  log: InMemoryRecord[];
  /** The last position taken (0: none yet); the next append's first event gets the one after. */
  last: number;
}

export function createInMemoryEventStorage(): InMemoryEventStorage {
  return { streams: new Map(), log: [], last: 0 };
}

export interface InMemoryEventStoreOptions {
  serializer?: MessageSerializer;
  storage?: InMemoryEventStorage;
}

/**
 * The event store in process memory: for embedded use (a single process, data lost on exit)
 * and fast unit tests. Every check-and-write runs without awaiting in between, so appends are
 * atomic and positions become visible in increasing order. Data is kept serialized, so checksums,
 * size limits and the serializer's validation behave exactly as with the server-backed stores.
 */
export class InMemoryEventStore implements EventStore {
  readonly storage: InMemoryEventStorage;
  private readonly serializer: MessageSerializer;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.serializer = options.serializer ?? new JsonSerializer();
    this.storage = options.storage ?? createInMemoryEventStorage();
  }

  async init(): Promise<void> {}

  async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    checkStreamId(streamId);
    checkAppendOptions(options);
    checkAppendEvents(events, streamId);
    // Serialize everything first: a validation or size error must leave nothing written.
    const serialized = serializeForAppend(this.serializer, streamId, events);
    const stream = this.storage.streams.get(streamId);
    const head = stream?.head ?? MISSING_HEAD;
    if (head.tombstoned) throw new StreamDeletedError(streamId);
    const expected = options.expectedVersion;
    const holds = expectationHolds(expected, head);
    if (!holds || expected === 'any' || expected === 'exists') {
      const check = checkDuplicates(
        serialized.map((e) => e.messageId),
        (id) => stream?.ids.get(id),
      );
      if (check.kind === 'duplicate')
        return { nextExpectedVersion: check.lastVersion, positions: [] };
      if (check.kind === 'partial' || !holds)
        throw new ConcurrencyConflictError(streamId, expected, head.version, { overlap: holds });
    }
    if (serialized.length === 0) return { nextExpectedVersion: head.version, positions: [] };
    const target = stream ?? {
      head: { ...MISSING_HEAD },
      events: [],
      ids: new Map<string, number>(),
    };
    const positions: number[] = [];
    serialized.forEach((envelope, i) => {
      const version = head.version + i + 1;
      const record: InMemoryRecord = {
        streamId,
        version,
        position: ++this.storage.last,
        serialized: { ...envelope, version, metadata: jsonCopy(envelope.metadata) },
      };
      this.storage.log.push(record);
      target.events.push(record);
      target.ids.set(envelope.messageId, version);
      positions.push(record.position);
    });
    // softDeletedAt stays: streamInfo tells a stream created again from a cut one by it.
    target.head = { ...head, version: head.version + serialized.length };
    this.storage.streams.set(streamId, target);
    return { nextExpectedVersion: target.head.version, positions };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    checkStreamId(streamId);
    checkReadStreamOptions(options);
    const events = this.storage.streams.get(streamId)?.events ?? [];
    const backwards = options.direction === 'backwards';
    const low = backwards ? (options.toVersion ?? 1) : (options.fromVersion ?? 1);
    const high = backwards ? (options.fromVersion ?? Infinity) : (options.toVersion ?? Infinity);
    let selected = events.filter((r) => r.version >= low && r.version <= high);
    if (backwards) selected = selected.reverse();
    if (options.limit !== undefined) selected = selected.slice(0, options.limit);
    return selected.map((record) => this.toStored(record));
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return (await this.readAllPage(options)).events;
  }

  /**
   * Appends are synchronous, so every position up to the end of the log is written: the
   * checkpoint of a page that reaches the end is the end, past filtered-out events and the
   * positions of removed ones.
   */
  async readAllPage(options: ReadAllOptions = {}): Promise<ReadAllPage> {
    checkReadAllOptions(options);
    const from = options.fromPosition ?? 0;
    const limit = options.limit ?? Infinity;
    const types = storedTypeNames(this.serializer, options.types);
    const events: StoredEvent[] = [];
    if (limit <= 0) return { events, position: from, caughtUp: false };
    const { log, last } = this.storage;
    let position = from;
    for (let i = firstAfter(log, from); i < log.length; i++) {
      const record = log[i]!;
      if (!types || types.has(record.serialized.type)) {
        if (events.length >= limit) return { events, position, caughtUp: false };
        events.push(this.toStored(record));
      }
      position = record.position;
    }
    return { events, position: Math.max(position, last), caughtUp: true };
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return pollingSubscription((o) => this.readAllPage(o), options, {
      end: async () => this.end(),
    });
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    checkStreamId(streamId);
    return streamInfoOf(streamId, this.storage.streams.get(streamId)?.head ?? MISSING_HEAD);
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions): Promise<void> {
    checkStreamId(streamId);
    checkDeleteStreamOptions(options);
    const stream = this.storage.streams.get(streamId);
    const head = stream?.head ?? MISSING_HEAD;
    if (head.tombstoned) {
      if (options.mode === 'hard') return;
      throw new StreamDeletedError(streamId);
    }
    if (options.expectedVersion !== undefined && !expectationHolds(options.expectedVersion, head)) {
      throw new ConcurrencyConflictError(streamId, options.expectedVersion, head.version);
    }
    if (options.mode === 'soft' && !stream) return;
    const target = stream ?? {
      head: { ...MISSING_HEAD },
      events: [],
      ids: new Map<string, number>(),
    };
    this.storage.streams.set(streamId, target);
    this.drop(this.cut(target, head.version + 1));
    if (options.mode === 'hard') target.head = { ...target.head, tombstoned: true };
    else target.head = { ...target.head, softDeletedAt: head.version };
  }

  async truncateStream(streamId: string, beforeVersion: number): Promise<void> {
    checkStreamId(streamId);
    checkBeforeVersion(beforeVersion);
    const stream = this.storage.streams.get(streamId);
    if (stream) this.drop(this.cut(stream, beforeVersion));
  }

  async applyRetention(policy: RetentionPolicy): Promise<number> {
    checkRetentionPolicy(policy);
    const cutoff = policy.maxAgeMs === undefined ? undefined : Date.now() - policy.maxAgeMs;
    const removed: InMemoryRecord[] = [];
    for (const [streamId, stream] of this.storage.streams) {
      if (policy.streamPrefix !== undefined && !streamId.startsWith(policy.streamPrefix)) continue;
      let before = stream.head.firstVersion;
      if (policy.maxCount !== undefined)
        before = Math.max(before, stream.head.version - policy.maxCount + 1);
      if (cutoff !== undefined) {
        for (const record of stream.events) {
          if (!(Date.parse(record.serialized.metadata.timestamp) < cutoff)) break;
          before = Math.max(before, record.version + 1);
        }
      }
      if (policy.maxPosition !== undefined) {
        const unread = stream.events.find((record) => record.position > policy.maxPosition!);
        if (unread) before = Math.min(before, unread.version);
      }
      removed.push(...this.cut(stream, before));
    }
    this.drop(removed);
    return removed.length;
  }

  /**
   * What the store holds in memory: the `events` it can still read, and its log's `logSlots`
   * (one per event kept: a removed event leaves the log).
   */
  stats(): { events: number; logSlots: number } {
    let events = 0;
    for (const stream of this.storage.streams.values()) events += stream.events.length;
    return { events, logSlots: this.storage.log.length };
  }

  /** The last position taken (every position up to it is written: appends are synchronous). */
  private end(): number {
    return this.storage.last;
  }

  /**
   * Takes `removed` out of the log, in one pass: called once per removing call, not per
   * stream cut, so that a retention run over many streams copies the log once.
   */
  private drop(removed: readonly InMemoryRecord[]): void {
    if (removed.length === 0) return;
    const gone = new Set(removed);
    this.storage.log = this.storage.log.filter((record) => !gone.has(record));
  }

  async close(): Promise<void> {}

  /**
   * Removes the events before `beforeVersion` (never past the head) from the stream; returns
   * them, for the caller to drop from the log.
   */
  private cut(stream: InMemoryStream, beforeVersion: number): InMemoryRecord[] {
    const before = Math.min(beforeVersion, stream.head.version + 1);
    if (before <= stream.head.firstVersion) return [];
    const removed = stream.events.filter((r) => r.version < before);
    for (const record of removed) {
      // Only when the id points here: an id stored again later (an append whose expected
      // version held) stays recognised by its readable copy.
      const id = record.serialized.messageId;
      if (stream.ids.get(id) === record.version) stream.ids.delete(id);
    }
    stream.events = stream.events.filter((r) => r.version >= before);
    stream.head = { ...stream.head, firstVersion: before };
    return removed;
  }

  private toStored(record: InMemoryRecord): StoredEvent {
    const { serialized } = record;
    const envelope = decodeStoredEvent(
      {
        streamId: record.streamId,
        version: record.version,
        position: record.position,
        messageId: serialized.messageId,
      },
      () => this.serializer.deserialize({ ...serialized, metadata: jsonCopy(serialized.metadata) }),
    );
    return storedEvent(envelope, record);
  }
}

/** The index of the first record of `log` (in position order) past `position`. */
function firstAfter(log: readonly InMemoryRecord[], position: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (log[middle]!.position <= position) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The metadata as a server-backed store keeps it (JSON) and gives it to each read: a copy of its
 * own. The stored object went to every reader (and stayed the appender's below the top level):
 * a handler that changed or stripped a field (its checksum) changed the event for every later
 * read, which then failed ChecksumMismatchError (a review, session 44).
 */
function jsonCopy(metadata: SerializedEnvelope['metadata']): SerializedEnvelope['metadata'] {
  return JSON.parse(JSON.stringify(metadata)) as SerializedEnvelope['metadata'];
}
