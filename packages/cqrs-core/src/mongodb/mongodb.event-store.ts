import { shownValue } from '../config/shown-value';
import { type Connection, type mongo } from 'mongoose';
import { ConcurrencyConflictError, StreamDeletedError } from '../event-store/event-store.errors';
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
} from '../event-store/event-store.port';
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
  type DuplicateCheck,
  expectationHolds,
  streamInfoOf,
  type StreamHead,
} from '../event-store/event-store.rules';
import { pollingSubscription } from '../event-store/polling.subscription';
import { readAllByPages } from '../event-store/read-all.pages';
import { decodeStoredEvent, storedEvent } from '../event-store/stored-event.decode';
import { type Envelope } from '../messages/envelope';
import { JsonSerializer } from '../messages/json.serializer';
import { type MessageSerializer, type SerializedEnvelope } from '../messages/serializer.port';
import { storedTypeNames } from '../messages/type.names';
import { type LedgerUnits } from '../outbox/forward-ledger.port';
import { logEpoch, MongoCommitLog, type SlotHint } from './mongodb.commit-log';
import { createEventStoreCollections } from './mongodb.event-store.collections';
import {
  type CommitDocument,
  type EventDocument,
  positionOf,
  POSITIONS_PER_SLOT,
  slotOf,
  type DeleteMarkDocument,
  type StreamDocument,
  toEventDocument,
  toSerializedEnvelope,
} from './mongodb.event-store.documents';
import { CommitTooLargeError, TooManyEventsError } from './mongodb.event-store.errors';
import { MAX_DOCUMENT_BYTES, sizeOver } from './mongodb.document-size';
import {
  finishDeletes,
  markRemoval,
  stripStream,
  unmarkRemoval,
  streamsForRetention,
  upsertStream,
} from './mongodb.event-store.retention';

/** How many stream heads one store instance keeps for its single-insert fast path. */
const HEADS_REMEMBERED = 10_000;

export interface MongoEventStoreOptions {
  /** An open mongoose connection (e.g. `mongoConnection(...).client`); the store does not close it. */
  connection: Connection;
  /** Prefix of the store's collections `<prefix>commits`, `<prefix>streams`, `<prefix>meta`. Default `events_`. */
  collectionPrefix?: string;
  serializer?: MessageSerializer;
  /** Commit documents fetched per query by readAll. Default 500. */
  readBatchSize?: number;
  /**
   * Commit documents one readAllPage reads at most: a page over more commits that hold nothing
   * (emptied by truncation, soft deletes or retention; they are kept) ends there, not caught
   * up, and the reader checkpoints past them. Default 10 000.
   */
  readAllBudget?: number;
  /**
   * A shared hint of the highest slot taken (e.g. `RedisSlotHint`) for deployments where several
   * processes append to one store: a writer reads it before inserting and so skips the slots the
   * others took, instead of being refused on each (docs/adr/003). Without it, writers learn of
   * other processes' slots from refused inserts and the beacon only.
   */
  slotHint?: SlotHint;
}

/**
 * The event store on MongoDB (S2-1); runs on real MongoDB and on FerretDB 1.x alike, so it uses
 * no transactions, counters, change streams or TTL indexes (docs/adr/003):
 * - one append = one commit document (atomic), (streamId, firstVersion) unique = optimistic concurrency;
 * - the commit's `_id` is its slot in the global log, claimed by MongoCommitLog so that slots
 *   become visible in increasing order (no-skip guarantee); concurrent appends of one instance
 *   queue and are group-committed instead of racing each other;
 * - each store instance remembers the head of streams it wrote, so an append with the right
 *   numeric expected version (or 'no-stream' on a stream it does not know) is a single insert;
 *   otherwise it reads the head first;
 * - appends to one stream of one instance take turns: one whose numeric expected version is
 *   below the head the instance knows is refused after one read, without an insert (docs/adr/003,
 *   session 28); appends to different streams do not wait for each other.
 *
 * Hazards: an append is limited to POSITIONS_PER_SLOT events and to MongoDB's 16 MiB per
 * document (CommitTooLargeError: FerretDB would store more); commit documents are never deleted (truncation leaves small stubs); on FerretDB every
 * query but one by string `_id` scans its collection, so it is for development, not for volume.
 */
export class MongoEventStore implements EventStore {
  private readonly connection: Connection;
  private readonly prefix: string;
  private readonly serializer: MessageSerializer;
  private readonly batchSize: number;
  private readonly readAllBudget: number;
  private readonly heads = new Map<string, number>();
  /** The last append queued on each stream of this instance, while one runs (see append). */
  private readonly appending = new Map<string, Promise<unknown>>();
  private readonly slotHint: SlotHint | undefined;
  private logName = '';
  /** The server's largest document: a commit (one append) is one document. */
  private maxDocumentBytes = MAX_DOCUMENT_BYTES;
  private collections?: {
    commits: mongo.Collection<CommitDocument>;
    streams: mongo.Collection<StreamDocument>;
    deletes: mongo.Collection<DeleteMarkDocument>;
    log: MongoCommitLog;
  };

  /**
   * @throws TypeError naming `connection` when it is missing
   * @throws RangeError naming `readBatchSize` or `readAllBudget` when not a positive integer
   */
  constructor(options: MongoEventStoreOptions) {
    if (!options?.connection) {
      throw new TypeError(
        `MongoEventStore: options.connection is required, got ${shownValue(options?.connection)}`,
      );
    }
    this.connection = options.connection;
    this.prefix = options.collectionPrefix ?? 'events_';
    this.serializer = options.serializer ?? new JsonSerializer();
    this.batchSize = positiveInteger('readBatchSize', options.readBatchSize ?? 500);
    // As the Redis store's budget of positions (READ_ALL_BUDGET).
    this.readAllBudget = positiveInteger('readAllBudget', options.readAllBudget ?? 10_000);
    this.slotHint = options.slotHint;
  }

  async init(): Promise<void> {
    const db = this.connection.db;
    if (!db) throw new Error('MongoEventStore.init(): the mongoose connection is not open');
    const hello = await db.admin().command({ hello: 1 });
    checkRetryableWrites(this.connection.getClient().options.retryWrites, hello);
    if (typeof hello.maxBsonObjectSize === 'number')
      this.maxDocumentBytes = hello.maxBsonObjectSize;
    const { commits, streams, deletes, meta } = await createEventStoreCollections(db, this.prefix);
    this.logName = `${db.databaseName}/${this.prefix}/${await logEpoch(meta)}`;
    const hint = this.slotHint && { store: this.slotHint, log: this.logName };
    const log = new MongoCommitLog(commits, meta, hint);
    await log.refresh();
    this.collections = { commits, streams, deletes, log };
  }

  /**
   * How a ForwardLedger counts this store's appends: one slot per append, the highest slot from
   * the slot hint (Infinity without one, so rounds keep reading), and `log`, the global log's
   * name, which changes when the database is created again: put it in the ledger's key. May be
   * taken before init(); `log` and `head` are current when read.
   */
  ledgerUnits(): LedgerUnits & { readonly log: string } {
    const hint = this.slotHint;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this;
    return {
      get log() {
        return store.logName;
      },
      unitOf: slotOf,
      lastOf: (slot) => positionOf(slot, POSITIONS_PER_SLOT - 1),
      // A hint that reads 0 (expired, never raised) or a store not initialised knows nothing.
      head: async () =>
        hint && store.logName ? (await hint.read(store.logName)) || Infinity : Infinity,
    };
  }

  async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    checkStreamId(streamId);
    checkAppendOptions(options);
    checkAppendEvents(events, streamId);
    if (events.length > POSITIONS_PER_SLOT)
      throw new TooManyEventsError(streamId, events.length, POSITIONS_PER_SLOT);
    const serialized = serializeForAppend(this.serializer, streamId, events);
    this.open();
    // Appends to one stream take turns in this instance (other streams' appends stay concurrent
    // and are group-committed together): each starts from the head the one before left in
    // `heads`, so two of them never send inserts at the same version. One whose expected
    // version is already below that head cannot insert: it ends its turn at once and only reads
    // the head (and its messageIds, for a re-append). Concurrent, each loser's insert was refused
    // by the commit log, at ~70 ms each on FerretDB (which does not name the refused index: 8
    // inserts at later slots and a read of the version before it tells a taken version from a
    // taken slot), holding up the queue behind it (docs/adr/003, session 28).
    const previous = this.appending.get(streamId);
    let endTurn!: () => void;
    const turn = new Promise<void>((resolve) => (endTurn = resolve));
    this.appending.set(streamId, turn);
    try {
      if (previous) await previous;
      return await this.appendInTurn(streamId, serialized, options.expectedVersion, endTurn);
    } finally {
      endTurn();
      if (this.appending.get(streamId) === turn) this.appending.delete(streamId);
    }
  }

  private async appendInTurn(
    streamId: string,
    serialized: readonly SerializedEnvelope[],
    expected: AppendOptions['expectedVersion'],
    endTurn: () => void,
  ): Promise<AppendResult> {
    // The remembered head is the end of a real commit and heads only grow: an expectation below
    // it fails whatever the stream's head is now (it is a conflict or a re-append).
    const known = this.heads.get(streamId) ?? 0;
    if (typeof expected === 'number' && expected < known) {
      endTurn();
      const { head, check } = await this.readTail(
        streamId,
        known,
        serialized.map((e) => e.messageId),
      );
      if (head.tombstoned) throw new StreamDeletedError(streamId);
      this.remember(streamId, head.version);
      if (check.kind === 'duplicate')
        return { nextExpectedVersion: check.lastVersion, positions: [] };
      throw new ConcurrencyConflictError(streamId, expected, head.version);
    }
    const { log } = this.open();
    let refused = false;
    for (;;) {
      let base: number;
      // An unknown stream is taken to be new (head 0) until an insert says otherwise: commits
      // tile 1..head and are never deleted, so the insert at version 1 succeeds only if the
      // stream has no commit at all, exactly when reading the head would have allowed it.
      // An empty append writes nothing that could be refused: it always reads the head, so
      // that the tombstone and the expected version are checked as on every other backend.
      const guess = this.heads.get(streamId) ?? 0;
      if (
        !refused &&
        serialized.length > 0 &&
        ((typeof expected === 'number' && guess === expected) ||
          (expected === 'no-stream' && guess === 0))
      ) {
        // This process saw that head (or the stream looks new): try the insert; a concurrent
        // writer, or a stream we did not know, makes it fail.
        base = guess;
      } else {
        const head = await this.readHead(streamId);
        if (head.tombstoned) throw new StreamDeletedError(streamId);
        this.remember(streamId, head.version);
        const holds = expectationHolds(expected, head);
        if (!holds || expected === 'any' || expected === 'exists') {
          const check = await this.findDuplicates(
            streamId,
            serialized.map((e) => e.messageId),
            head,
          );
          if (check.kind === 'duplicate')
            return { nextExpectedVersion: check.lastVersion, positions: [] };
          if (check.kind === 'partial' || !holds)
            throw new ConcurrencyConflictError(streamId, expected, head.version, {
              overlap: holds,
            });
        }
        base = head.version;
      }
      if (serialized.length === 0) return { nextExpectedVersion: base, positions: [] };
      const eventDocuments = serialized.map((envelope, i) =>
        toEventDocument(envelope, base + i + 1, i),
      );
      const commit = {
        streamId,
        firstVersion: base + 1,
        lastVersion: base + serialized.length,
        events: eventDocuments,
        types: [...new Set(eventDocuments.map((e) => e.type))],
        messageIds: eventDocuments.map((e) => e.messageId),
      };
      const size = sizeOver({ _id: 0, ...commit }, commitBound(commit), this.maxDocumentBytes);
      if (size !== undefined)
        throw new CommitTooLargeError(streamId, eventDocuments.length, size, this.maxDocumentBytes);
      const outcome = await log.insert(commit);
      if (outcome.kind === 'inserted') {
        this.remember(streamId, base + serialized.length);
        return {
          nextExpectedVersion: base + serialized.length,
          positions: eventDocuments.map((_, i) => positionOf(outcome.slot, i)),
        };
      }
      // Someone appended first: read the head again (a numeric expectation then fails or is a duplicate).
      this.heads.delete(streamId);
      refused = true;
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    checkStreamId(streamId);
    checkReadStreamOptions(options);
    const { commits, streams } = this.open();
    const first = (await streams.findOne({ _id: streamId }))?.firstVersion ?? 1;
    const backwards = options.direction === 'backwards';
    const low = Math.max(first, (backwards ? options.toVersion : options.fromVersion) ?? 1);
    const high = (backwards ? options.fromVersion : options.toVersion) ?? Infinity;
    const limit = options.limit ?? Infinity;
    if (limit <= 0 || low > high) return [];
    const filter: mongo.Filter<CommitDocument> = { streamId, lastVersion: { $gte: low } };
    if (Number.isFinite(high)) {
      // A commit holds at most POSITIONS_PER_SLOT events: both bounds then sit on stream_last.
      filter.firstVersion = { $lte: high };
      filter.lastVersion = { $gte: low, $lte: high + POSITIONS_PER_SLOT - 1 };
    }
    const result: StoredEvent[] = [];
    // Sorted by lastVersion, which orders a stream's commits as firstVersion does (they tile the
    // versions): the (streamId, lastVersion) index then bounds the scan to the commits wanted.
    let cursor = commits.find(filter).sort({ lastVersion: backwards ? -1 : 1 });
    // Every commit in range holds at least one wanted event, except a tombstone (one, at the end).
    if (Number.isFinite(limit)) cursor = cursor.limit(limit + 1);
    for await (const commit of cursor) {
      const events = commit.events.filter((e) => e.version >= low && e.version <= high);
      for (const event of backwards ? events.reverse() : events) {
        if (result.length >= limit) break;
        result.push(this.toStored(commit, event));
      }
      if (result.length >= limit) break;
    }
    await cursor.close();
    return result;
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    checkReadAllOptions(options);
    return readAllByPages((o) => this.readAllPage(o), options);
  }

  /**
   * Reads commits in slot order. Without a type filter every commit after `fromPosition` is
   * read, so when the query comes back short it read up to the end of the log as it stood, and
   * the checkpoint is the end of the last commit: one round trip, as before.
   *
   * With a filter only matching commits come back, so the page reads the beacon first (a slot
   * known taken; MongoCommitLog.takenPrefix, one lookup by string `_id`): slots are taken as a
   * prefix and never deleted (docs/adr/003), so every commit up to the beacon's slot was visible
   * before the query started and the query returns every match among them; a page that is not
   * full then checkpoints at the end of that slot (unless it read further). Read after
   * the query, it could name a slot whose match became visible in between. The beacon lags the
   * log's end by at most the commits of the last few ms (or, when an update was lost, until the
   * next append), so an idle filtered reader's checkpoint stays close behind the end; events
   * are never held back by it (the query is not bounded by it).
   */
  async readAllPage(options: ReadAllOptions = {}): Promise<ReadAllPage> {
    checkReadAllOptions(options);
    const { commits, log } = this.open();
    const from = options.fromPosition ?? 0;
    const limit = options.limit ?? Infinity;
    const types = storedTypeNames(this.serializer, options.types);
    const events: StoredEvent[] = [];
    let position = from;
    if (limit <= 0) return { events, position, caughtUp: false };
    const taken = types ? await log.takenPrefix() : 0;
    let slot = slotOf(from);
    let read = 0;
    for (;;) {
      const filter: mongo.Filter<CommitDocument> = { _id: { $gte: slot } };
      if (types) filter.types = { $in: [...types] };
      // Each commit holds at least one event unless emptied: the first query asks for no more
      // than needed; one that came back full yet short of events met emptied commits, and the
      // next ones ask for a whole batch (a review, session 35: one query per emptied commit).
      const wanted = read === 0 ? Math.min(this.batchSize, limit - events.length) : this.batchSize;
      const batch = await commits.find(filter).sort({ _id: 1 }).limit(wanted).toArray();
      read += batch.length;
      for (const commit of batch) {
        for (const event of commit.events) {
          const at = positionOf(commit._id, event.index);
          if (at <= from) continue;
          if (!types || types.has(event.type)) {
            if (events.length >= limit) return { events, position, caughtUp: false };
            events.push(this.toStored(commit, event));
          }
          position = at;
        }
        position = Math.max(position, endOf(commit));
      }
      const last = batch[batch.length - 1];
      if (!last || batch.length < wanted) break;
      // Full, or out of budget: not caught up; the next page reads on from `position`.
      if (events.length >= limit || read >= this.readAllBudget)
        return { events, position, caughtUp: false };
      slot = last._id + 1;
    }
    // The end of the beacon's slot: its commit was not read (nothing in it matched), so its last
    // position is unknown, and every position of the slot after it is unused.
    if (taken > slotOf(position)) position = positionOf(taken, POSITIONS_PER_SLOT - 1);
    return { events, position, caughtUp: true };
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return pollingSubscription((o) => this.readAllPage(o), options, {
      // The end of the highest slot: a filtered page's checkpoint may lie there (past its last
      // event). Read once, by a subscription whose first page found nothing (a full scan on
      // FerretDB, an index lookup on MongoDB).
      end: async () => {
        const slot = await this.open().log.highestSlot();
        return slot === 0 ? 0 : positionOf(slot, POSITIONS_PER_SLOT - 1);
      },
    });
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    checkStreamId(streamId);
    return streamInfoOf(streamId, await this.readHead(streamId));
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions): Promise<void> {
    checkStreamId(streamId);
    checkDeleteStreamOptions(options);
    const { log, streams, deletes } = this.open();
    /** This hard delete's mark, once written. */
    let mark: string | undefined;
    for (;;) {
      const head = await this.readHead(streamId);
      if (head.tombstoned) {
        if (options.mode !== 'hard') throw new StreamDeletedError(streamId);
        // Made again, a hard delete finishes one that stopped between its tombstone and its
        // strip (the process died, the server went away), whose events readAll still returned.
        await stripStream(this.open(), streamId, head.version + 1);
        // A mark of before session 43 (one per stream) is that delete's; one of a removal of
        // since is left to finishDeletes, which tells a killed removal's from a running one.
        await deletes.deleteOne({ _id: streamId });
        if (mark !== undefined) await unmarkRemoval(deletes, mark);
        return;
      }
      if (
        options.expectedVersion !== undefined &&
        !expectationHolds(options.expectedVersion, head)
      ) {
        // Its tombstone not written: its mark (of an earlier turn of the loop) marks nothing.
        if (mark !== undefined) await unmarkRemoval(deletes, mark);
        throw new ConcurrencyConflictError(streamId, options.expectedVersion, head.version);
      }
      if (options.mode === 'soft') {
        if (head.version === 0) return;
        // Marked before the strip, unmarked after: a process that dies in between leaves the
        // mark, by which applyRetention finishes the strip (readAll still returned the events).
        const soft = await markRemoval(deletes, streamId);
        // The events hidden and the stream soft-deleted in one write, before the strip: a
        // process dying after it leaves a stream streamInfo reports as soft-deleted (written
        // after the strip, a death in between left it 'active' for good, a review, session 42).
        await upsertStream(streams, streamId, {
          $max: { firstVersion: head.version + 1 },
          $set: { softDeletedAt: head.version },
        });
        await stripStream(this.open(), streamId, head.version + 1);
        await unmarkRemoval(deletes, soft);
        return;
      }
      // Marked before the tombstone, unmarked after the strip: a process that dies in between
      // leaves the mark, by which applyRetention finds the delete and finishes it. One mark
      // for the delete, whatever the turns of the loop (a lost race for the tombstone).
      mark ??= await markRemoval(deletes, streamId);
      // The tombstone is a commit at the next version: a concurrent append and the delete cannot both win.
      const outcome = await log.insert({
        streamId,
        firstVersion: head.version + 1,
        lastVersion: head.version + 1,
        tombstone: true,
        events: [],
        types: [],
        messageIds: [],
      });
      if (outcome.kind === 'inserted') {
        this.heads.delete(streamId);
        await stripStream(this.open(), streamId, head.version + 1);
        await unmarkRemoval(deletes, mark);
        return;
      }
    }
  }

  async truncateStream(streamId: string, beforeVersion: number): Promise<void> {
    checkStreamId(streamId);
    checkBeforeVersion(beforeVersion);
    const head = await this.readHead(streamId);
    const before = Math.min(beforeVersion, head.version + 1);
    if (before <= head.firstVersion) return;
    // As a soft delete: the mark lets applyRetention finish a strip whose process died.
    const { deletes } = this.open();
    const mark = await markRemoval(deletes, streamId);
    await stripStream(this.open(), streamId, before);
    await unmarkRemoval(deletes, mark);
  }

  async applyRetention(policy: RetentionPolicy): Promise<number> {
    checkRetentionPolicy(policy);
    // Whatever the policy: those streams are deleted or truncated already, only their strip was cut short.
    let removed = await finishDeletes(this.open(), (streamId) => this.readHead(streamId));
    for (const { streamId, before } of await streamsForRetention(this.open(), policy)) {
      removed += await stripStream(this.open(), streamId, before);
    }
    return removed;
  }

  /** The connection belongs to its connection manager: nothing to close here. */
  async close(): Promise<void> {}

  /** Heads of recently used streams; the oldest are forgotten beyond HEADS_REMEMBERED. */
  private remember(streamId: string, version: number): void {
    this.heads.delete(streamId);
    this.heads.set(streamId, version);
    if (this.heads.size > HEADS_REMEMBERED) {
      const oldest = this.heads.keys().next();
      if (!oldest.done) this.heads.delete(oldest.value);
    }
  }

  private open() {
    if (!this.collections) throw new Error('MongoEventStore: call init() first');
    return this.collections;
  }

  private async readHead(streamId: string): Promise<StreamHead> {
    const { commits, streams } = this.open();
    const [[top], stream] = await Promise.all([
      commits
        .find({ streamId }, { projection: { events: 0 } })
        .sort({ firstVersion: -1 })
        .limit(1)
        .toArray(),
      streams.findOne({ _id: streamId }),
    ]);
    return {
      // A tombstone takes one version; the stream's version stays that of its last event.
      version: top ? (top.tombstone ? top.firstVersion - 1 : top.lastVersion) : 0,
      firstVersion: stream?.firstVersion ?? 1,
      tombstoned: top?.tombstone === true,
      softDeletedAt: stream?.softDeletedAt,
    };
  }

  /**
   * readHead and findDuplicates in one query, for an append whose expected version is below
   * `known`, a head this instance saw: the commit ending at `known` is never deleted, so the
   * head is among the commits ending there or later, which are few. The stream document (the
   * first readable version, which only matters to a re-append) is read when a messageId is found.
   */
  private async readTail(streamId: string, known: number, messageIds: string[]) {
    const { commits, streams } = this.open();
    const found = await commits
      .find({
        streamId,
        $or: [{ lastVersion: { $gte: known } }, { messageIds: { $in: messageIds } }],
      })
      .toArray();
    const ids = new Set(messageIds);
    const stream = found.some((commit) => commit.messageIds.some((id) => ids.has(id)))
      ? await streams.findOne({ _id: streamId })
      : null;
    let top: CommitDocument | undefined;
    for (const commit of found)
      if (commit.lastVersion >= known && (!top || commit.firstVersion > top.firstVersion))
        top = commit;
    const head: StreamHead = {
      version: top ? (top.tombstone ? top.firstVersion - 1 : top.lastVersion) : 0,
      firstVersion: stream?.firstVersion ?? 1,
      tombstoned: top?.tombstone === true,
      softDeletedAt: stream?.softDeletedAt,
    };
    return { head, check: duplicatesIn(found, messageIds, head) };
  }

  private async findDuplicates(streamId: string, messageIds: string[], head: StreamHead) {
    const { commits } = this.open();
    const found = await commits.find({ streamId, messageIds: { $in: messageIds } }).toArray();
    return duplicatesIn(found, messageIds, head);
  }

  private toStored(commit: CommitDocument, event: EventDocument): StoredEvent {
    const position = positionOf(commit._id, event.index);
    const envelope = decodeStoredEvent(
      { streamId: commit.streamId, version: event.version, position, messageId: event.messageId },
      () => this.serializer.deserialize(toSerializedEnvelope(event)),
    );
    return storedEvent(envelope, { streamId: commit.streamId, version: event.version, position });
  }
}

/** Which of `messageIds` the commits hold among the stream's readable events (checkDuplicates). */
function duplicatesIn(
  found: readonly CommitDocument[],
  messageIds: readonly string[],
  head: StreamHead,
): DuplicateCheck {
  const stored = new Map<string, number>();
  for (const commit of found)
    for (const event of commit.events)
      if (event.version >= head.firstVersion) stored.set(event.messageId, event.version);
  return checkDuplicates(messageIds, (id) => stored.get(id));
}

/**
 * The position of a commit's last event (versions and indexes of a commit run in step, and
 * stay after truncation empties it); a tombstone, which holds no event, ends at its slot's
 * first position. Every position of the slot after it is unused, so a checkpoint here misses
 * nothing of the commit.
 */
function endOf(commit: Pick<CommitDocument, '_id' | 'firstVersion' | 'lastVersion' | 'tombstone'>) {
  return positionOf(commit._id, commit.tombstone ? 0 : commit.lastVersion - commit.firstVersion);
}

/**
 * The driver retries a failed write once on a replica set or a sharded cluster (retryWrites,
 * on by default). A commit insert whose first try a failover rolled back runs again on the new
 * primary, possibly after the slot below it was rolled back too: a hole in the global log that
 * readers skip. The commit log handles an insert's unknown outcome itself (it reads the log's
 * end again, see MongoCommitLog), so the store needs a connection that does not retry writes
 * (`mongoConnection` opens one; a standalone server and FerretDB never retry).
 * @throws Error naming `retryWrites` when the connection retries writes on such a deployment
 */
export function checkRetryableWrites(
  retryWrites: boolean | undefined,
  hello: { setName?: unknown; msg?: unknown },
): void {
  const replicated = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
  if (retryWrites !== false && replicated) {
    throw new Error(
      'MongoEventStore: the connection retries writes (retryWrites=true, the driver default) on a ' +
        'replica set or sharded cluster; a retried commit insert after a failover can open a hole ' +
        'in the global log. Add retryWrites=false to the connection string, or open it with ' +
        'mongoConnection(), which sets it.',
    );
  }
}

/**
 * An upper bound of a commit's BSON size: 3 bytes per UTF-16 unit of its strings (a message id
 * and a type twice: in the event and in the commit's lists), 256 per event for the rest.
 */
function commitBound(commit: { streamId: string; events: readonly EventDocument[] }): number {
  let units = commit.streamId.length;
  for (const event of commit.events)
    units +=
      event.data.length +
      event.metadata.length +
      2 * (event.messageId.length + event.type.length) +
      event.aggregateId.length +
      event.aggregateType.length;
  return 3 * units + 256 * (commit.events.length + 1);
}

/** `value`, when it is a positive integer. @throws RangeError naming the option otherwise */
function positiveInteger(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(
      `MongoEventStore: options.${option} must be a positive integer, got ${shownValue(value)}`,
    );
  return value;
}
