import { type Connection, type Model, Schema } from 'mongoose';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';
import {
  checkCheckpointName,
  checkCheckpointPosition,
  checkStoredPosition,
} from '../outbox/checkpoint-store.rules';

interface CheckpointDocument {
  _id: string;
  name: string;
  position: number;
  savedAt: Date;
}

export interface MongoCheckpointStoreOptions {
  /** An open mongoose connection (see mongoConnection). The store does not close it. */
  connection: Connection;
  /** Default `checkpoints`. */
  collection?: string;
}

function isOptions(value: unknown): value is MongoCheckpointStoreOptions {
  return typeof value === 'object' && value !== null && 'connection' in value;
}

/**
 * Checkpoints in MongoDB, insert-only: every save inserts `<name>|<position>` and load takes
 * the highest, so a checkpoint can never move backwards — without relying on conditional
 * updates, which FerretDB 1.24 does not apply atomically under concurrency (several clients
 * can each see their filter match). Older checkpoints of the name are pruned after each save.
 */
export class MongoCheckpointStore implements CheckpointStore {
  private readonly model: Model<CheckpointDocument>;

  /**
   * @param connection an open mongoose connection, or `{ connection, collection }` as the other
   *   MongoDB stores take it
   * @param collection default `checkpoints`
   */
  constructor(
    connection: Connection | MongoCheckpointStoreOptions,
    collection: string = 'checkpoints',
  ) {
    if (isOptions(connection)) {
      collection = connection.collection ?? collection;
      connection = connection.connection;
    }
    if (typeof connection?.model !== 'function')
      throw new TypeError(
        'MongoCheckpointStore: pass an open mongoose connection, or { connection, collection }',
      );
    const schema = new Schema<CheckpointDocument>(
      {
        _id: { type: String, required: true },
        name: { type: String, required: true },
        position: { type: Number, required: true },
        savedAt: { type: Date, required: true },
      },
      { versionKey: false, collection },
    );
    schema.index({ name: 1, position: -1 });
    this.model =
      (connection.models[collection] as Model<CheckpointDocument> | undefined) ??
      connection.model<CheckpointDocument>(collection, schema);
  }

  /**
   * @throws TypeError (RangeError for a number that is not a non-negative safe integer) when the
   *   highest document of the name holds anything else (a hand edit; a string sorts above every
   *   number), naming the collection, the name and the value
   */
  async load(name: string): Promise<number> {
    checkCheckpointName(name);
    const latest = await this.model.find({ name }).sort({ position: -1 }).limit(1).lean();
    if (latest[0] === undefined) return 0;
    return checkStoredPosition(
      latest[0].position,
      `MongoCheckpointStore: the checkpoint ${JSON.stringify(name)} in the collection ${JSON.stringify(this.model.collection.collectionName)}`,
    );
  }

  async save(name: string, position: number): Promise<void> {
    checkCheckpointName(name);
    checkCheckpointPosition(position);
    try {
      await this.model.create({ _id: `${name}|${position}`, name, position, savedAt: new Date() });
    } catch (error) {
      if ((error as { code?: number }).code !== 11000) throw error; // the same position twice
    }
    // Pruning only removes lower positions: the highest one always survives.
    await this.model.deleteMany({ name, position: { $lt: position } });
  }

  async reset(name: string): Promise<void> {
    checkCheckpointName(name);
    await this.model.deleteMany({ name });
  }
}
