import { randomBytes } from 'node:crypto';
import { type Connection, type Model, Schema } from 'mongoose';
import {
  computeStats,
  matchesFilter,
  replayLetters,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterQueue,
  type DeadLetterStats,
  type NewDeadLetter,
  type ReplayResult,
} from '../dead-letters/dead-letter-queue.port';
import { type Publisher } from '../transport/transport.port';

export interface MongoDeadLetterQueueOptions {
  /** An open mongoose connection (see mongoConnection). The queue does not close it. */
  connection: Connection;
  /** Default 'dead_letters'. */
  collection?: string;
}

interface DeadLetterDocument {
  /** Sortable: `<ms since epoch, base 36, 9 digits>-<counter>-<random>`: list order = add order. */
  _id: string;
  originalTopic: string;
  handler: string;
  /** The envelope's type ('' for poison), for the `type` filter. */
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
schema.index({ originalTopic: 1, _id: 1 }, { name: 'topic_order' });

const NAMESPACE_EXISTS = 48;

/**
 * Dead letters in MongoDB (S1-5), for deployments without Redis (e.g. Kafka + MongoDB): one
 * document per letter, inserted by `add` (durable when it resolves, with the connection's write
 * concern) and deleted by replay and purge. Insert and delete only, so it runs on FerretDB as
 * on MongoDB (ADR 006). A letter's id is its `_id`. Listing reads the matching documents in add
 * order (a `reason` filter is applied after the read): meant for operators, not hot paths.
 * Passes `describeDeadLetterQueueConformance`.
 */
export class MongoDeadLetterQueue implements DeadLetterQueue {
  private readonly model: Model<DeadLetterDocument>;
  private counter = 0;

  constructor(options: MongoDeadLetterQueueOptions) {
    if (!options?.connection)
      throw new TypeError(
        'MongoDeadLetterQueue: options.connection (a mongoose Connection) is required',
      );
    const collection = options.collection ?? 'dead_letters';
    const modelName = `CausewayDeadLetter:${collection}`;
    this.model =
      (options.connection.models[modelName] as Model<DeadLetterDocument> | undefined) ??
      options.connection.model<DeadLetterDocument>(modelName, schema, collection);
  }

  /** Creates the collection and its index if missing (idempotent; once at start-up). */
  async init(): Promise<void> {
    try {
      await this.model.createCollection();
    } catch (error) {
      if ((error as { code?: number }).code !== NAMESPACE_EXISTS) throw error;
    }
    await this.model.createIndexes();
  }

  async add(letter: NewDeadLetter): Promise<string> {
    const id = [
      Date.now().toString(36).padStart(9, '0'),
      (this.counter++ % 1_679_616).toString(36).padStart(4, '0'),
      randomBytes(6).toString('hex'),
    ].join('-');
    await this.model.create({
      _id: id,
      originalTopic: letter.originalTopic,
      handler: letter.handler,
      type: letter.envelope?.type ?? '',
      letter: JSON.stringify(letter),
    });
    return id;
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const query: Record<string, unknown> = {};
    if (filter.originalTopic) query.originalTopic = filter.originalTopic;
    if (filter.handler) query.handler = filter.handler;
    if (filter.type) query.type = filter.type;
    if (filter.ids) query._id = { $in: [...filter.ids] };
    let find = this.model.find(query).sort({ _id: 1 });
    if (filter.limit !== undefined && !filter.reason) find = find.limit(filter.limit);
    const letters: DeadLetter[] = [];
    for (const doc of await find.lean()) {
      const letter: DeadLetter = { ...(JSON.parse(doc.letter) as NewDeadLetter), id: doc._id };
      if (!matchesFilter(letter, filter)) continue;
      letters.push(letter);
      if (filter.limit !== undefined && letters.length >= filter.limit) break;
    }
    return letters;
  }

  async stats(): Promise<DeadLetterStats> {
    return computeStats(await this.list());
  }

  async replay(filter: DeadLetterFilter, publisher: Publisher): Promise<ReplayResult> {
    return replayLetters(await this.list(filter), publisher, (letter) => this.remove(letter.id));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const letters = await this.list(filter);
    for (let i = 0; i < letters.length; i += 500)
      await this.model.deleteMany({ _id: { $in: letters.slice(i, i + 500).map((l) => l.id) } });
    return letters.length;
  }

  private async remove(id: string): Promise<void> {
    await this.model.deleteOne({ _id: id });
  }
}
