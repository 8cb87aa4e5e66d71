import { shownValue } from '../config/shown-value';
import { randomBytes, randomUUID } from 'node:crypto';
import { type Connection, type Model, Schema } from 'mongoose';
import {
  claimLeaseOf,
  countLetter,
  DeadLetterCursorError,
  emptyStats,
  replayLetters,
  typeOfLetter,
  matchingPages,
  withTypeNames,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayResult,
} from '../dead-letters/dead-letter-queue.port';
import { checkDeadLetterFilter, checkNewDeadLetter } from '../dead-letters/dead-letter-queue.rules';
import { type MessageSerializer } from '../messages/serializer.port';
import { type Publisher } from '../transport/transport.port';
import { MongoDeadLetterClaims } from './mongodb.dead-letter-claims';
import { ensureIndexes } from './mongodb.indexes';

export interface MongoDeadLetterQueueOptions {
  /** An open mongoose connection (see mongoConnection). The queue does not close it. */
  connection: Connection;
  /** Default 'dead_letters'. */
  collection?: string;
  /**
   * Documents read per query by list, stats, replay and purge, and removed per deleteMany by
   * purge: their memory is bounded by a page. Default 500.
   */
  pageSize?: number;
  /**
   * The registry: a `type` filter then also matches the type's former names, and a replay
   * upcasts letters written at an older schema version of their type (upcastLetterEnvelope).
   * Pass it: without it, letters of an older release cannot be replayed once their type's
   * version was bumped (a publisher's registry refuses their data as current).
   */
  serializer?: MessageSerializer;
  /**
   * How long a replay's claim on a letter lasts (ms) unless the letter is removed or given back
   * first. Default DEFAULT_CLAIM_LEASE_MS. Judged by each replayer's clock: keep them in sync.
   * @throws TypeError (constructor) when given and not a positive integer
   */
  claimLeaseMs?: number;
}

interface DeadLetterDocument {
  /** Sortable: `<ms since epoch, base 36, 9 digits>-<counter>-<random>`: list order = add order. */
  _id: string;
  originalTopic: string;
  handler: string;
  /** The letter's type (typeOfLetter: '' for poison that is not an envelope), for `type`. */
  type: string;
  /** The whole letter as JSON text: an envelope's data may hold keys MongoDB refuses ('$x'). */
  letter: string;
}

const schema = new Schema<DeadLetterDocument>(
  {
    _id: { type: String, required: true },
    originalTopic: { type: String, required: true },
    handler: { type: String, required: true },
    type: { type: String, default: '' },
    letter: { type: String, required: true },
  },
  // The collection and its index are created in init(), not behind the caller's back.
  { autoIndex: false, autoCreate: false, versionKey: false, strict: 'throw' },
);
// Serves list({ originalTopic }) in add order.

const NAMESPACE_EXISTS = 48;

/**
 * Dead letters in MongoDB (S1-5), for deployments without Redis (e.g. Kafka + MongoDB): one
 * document per letter, inserted by `add` (durable when it resolves, with the connection's write
 * concern) and deleted by replay and purge. Insert and delete only, so it runs on FerretDB as
 * on MongoDB (ADR 006). A letter's id is its `_id`. list, stats, replay and purge read the
 * matching documents in add order a page at a time (`_id` ranges of `pageSize`), up to the last
 * letter there when they started (`reason` and `deadLetteredBefore` are applied after the read); a
 * purge without `reason`, `errorName`, `deadLetteredBefore`, `limit` or `after` is one deleteMany. A replay claims a letter by
 * inserting a claim document in `<collection>_claims` (MongoDeadLetterClaims: insert-only, as
 * FerretDB's conditional updates are not atomic) and counts it only when its deleteOne deleted
 * it; a purge also deletes the claims of the letters gone. Meant for operators, not hot paths.
 * Passes `describeDeadLetterQueueConformance`.
 */
export class MongoDeadLetterQueue implements DeadLetterQueue {
  private readonly model: Model<DeadLetterDocument>;
  private readonly pageSize: number;
  private readonly serializer: MessageSerializer | undefined;
  private readonly claims: MongoDeadLetterClaims;
  private readonly claimLeaseMs: number;
  private counter = 0;

  /**
   * @throws TypeError naming a missing connection, or a `pageSize` or `claimLeaseMs` that is no
   * positive integer
   */
  constructor(options: MongoDeadLetterQueueOptions) {
    if (!options?.connection)
      throw new TypeError(
        'MongoDeadLetterQueue: options.connection (a mongoose Connection) is required',
      );
    this.pageSize = options.pageSize ?? 500;
    this.serializer = options.serializer;
    this.claimLeaseMs = claimLeaseOf('MongoDeadLetterQueue', options.claimLeaseMs);
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new TypeError(
        `MongoDeadLetterQueue: options.pageSize must be a positive integer, got ${shownValue(options.pageSize)}`,
      );
    const collection = options.collection ?? 'dead_letters';
    const modelName = `CausewayDeadLetter:${collection}`;
    this.model =
      (options.connection.models[modelName] as Model<DeadLetterDocument> | undefined) ??
      options.connection.model<DeadLetterDocument>(modelName, schema, collection);
    this.claims = new MongoDeadLetterClaims(options.connection, collection);
  }

  /** Creates the collections and the index if missing (idempotent; once at start-up). */
  async init(): Promise<void> {
    try {
      await this.model.createCollection();
    } catch (error) {
      if ((error as { code?: number }).code !== NAMESPACE_EXISTS) throw error;
    }
    await ensureIndexes(this.model.db.db!.collection(this.model.collection.collectionName), [
      { name: 'topic_order', keys: { originalTopic: 1, _id: 1 } },
    ]);
    await this.claims.init();
  }

  async add(letter: NewDeadLetter): Promise<string> {
    checkNewDeadLetter(letter);
    const id = [
      Date.now().toString(36).padStart(9, '0'),
      (this.counter++ % 1_679_616).toString(36).padStart(4, '0'),
      randomBytes(6).toString('hex'),
    ].join('-');
    await this.model.create({
      _id: id,
      originalTopic: letter.originalTopic,
      handler: letter.handler,
      type: typeOfLetter(letter),
      letter: JSON.stringify(letter),
    });
    return id;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.serializer);
    const letters: DeadLetter[] = [];
    for await (const letter of this.matching(filter)) letters.push(letter);
    return letters;
  }

  async stats(): Promise<DeadLetterStats> {
    const stats = emptyStats();
    for await (const page of this.pages({})) for (const letter of page) countLetter(stats, letter);
    return stats;
  }

  async replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.serializer);
    const claims = this.claims.forReplay(
      randomUUID(),
      this.claimLeaseMs,
      async (id) => (await this.model.exists({ _id: id })) !== null,
      async (id) => (await this.model.deleteOne({ _id: id })).deletedCount === 1,
    );
    return replayLetters(this.matching(filter), publisher, claims, this.serializer);
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    checkDeadLetterFilter(filter);
    filter = withTypeNames(filter, this.serializer);
    const whole =
      filter.reason === undefined &&
      filter.errorName === undefined &&
      filter.deadLetteredBefore === undefined &&
      filter.limit === undefined &&
      filter.after === undefined;
    let purged = 0;
    if (whole) purged = (await this.model.deleteMany(queryOf(filter))).deletedCount;
    else
      for await (const { letters } of matchingPages(this.pages(filter), (page) => page, filter)) {
        // What was deleted: a replay running meanwhile may have removed some.
        purged += (
          await this.model.deleteMany({ _id: { $in: letters.map((letter) => letter.id) } })
        ).deletedCount;
      }
    await this.claims.sweep(
      async (ids) =>
        new Set(
          (await this.model.find({ _id: { $in: ids } }, { _id: 1 }).lean()).map((doc) => doc._id),
        ),
    );
    return purged;
  }

  /** The letters `filter` matches, read lazily, stopping at `limit`. */
  private async *matching(filter: DeadLetterFilter): AsyncGenerator<DeadLetter> {
    for await (const { letters } of matchingPages(this.pages(filter), (page) => page, filter))
      yield* letters;
  }

  /**
   * The letters of the documents `filter` selects, a page per query, in add order, up to the
   * last one there when the scan started: a letter added meanwhile (a replayed message
   * dead-lettered again) is not read, so a replay cannot chase its own tail.
   */
  private async *pages(filter: DeadLetterFilter): AsyncGenerator<DeadLetter[]> {
    const query = queryOf(filter);
    if (filter.after !== undefined && !LETTER_ID.test(filter.after))
      throw new DeadLetterCursorError(filter.after, '<time>-<counter>-<random>');
    const last = await this.model.findOne(query, { _id: 1 }).sort({ _id: -1 }).lean();
    if (!last) return;
    let after: string | undefined = filter.after;
    for (;;) {
      const range = after === undefined ? { $lte: last._id } : { $gt: after, $lte: last._id };
      const docs = await this.model
        .find({ $and: [query, { _id: range }] })
        .sort({ _id: 1 })
        .limit(this.pageSize)
        .lean();
      if (docs.length > 0)
        yield docs.map((doc) => ({ ...(JSON.parse(doc.letter) as NewDeadLetter), id: doc._id }));
      if (docs.length < this.pageSize) return;
      after = docs[docs.length - 1]!._id;
      if (after === last._id) return;
    }
  }
}

/** The ids `add` gives: they sort in add order (within a process; see add). */
const LETTER_ID = /^[0-9a-z]{9}-[0-9a-z]{4}-[0-9a-f]{12}$/;

/** The part of a filter the documents' fields answer (all but `reason` and `limit`). */
function queryOf(filter: DeadLetterFilter): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  if (filter.originalTopic) query.originalTopic = filter.originalTopic;
  if (filter.handler) query.handler = filter.handler;
  if (filter.types) query.type = { $in: [...filter.types] };
  else if (filter.type) query.type = filter.type;
  if (filter.ids) query._id = { $in: [...filter.ids] };
  return query;
}
