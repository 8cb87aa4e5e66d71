import { type Connection, type Model, Schema } from 'mongoose';
import { ensureIndexes } from '@causeway/cqrs-core/mongodb';
import { byTrainerId } from './in-memory.trainer-positions';
import {
  positionFields,
  type TrainerPosition,
  type TrainerPositions,
} from './trainer-positions.port';
import { checkPositionRow } from './read-models.rules';

type PositionDocument = TrainerPosition & { _id: string };

export interface MongoTrainerPositionsOptions {
  /** Collection name. Default 'trainer_positions'. */
  collection?: string;
}

/**
 * TrainerPositions in MongoDB (and FerretDB 1.24), insert-only: every applied version is its own
 * document `<trainerId>|<version>` and a read takes each trainer's highest version. FerretDB does
 * not apply a conditional `updateOne({version: {$lt: v}})` atomically under concurrency (ADR 006),
 * so an older event could overwrite a newer row; an insert checked by the unique `_id` cannot.
 * Lower versions of the trainer are pruned after each insert: the highest always survives, so a
 * prune racing a reader or another writer never hides the latest row. A prune that fails fails
 * the apply; its retry, refused as not newer, prunes what is left below the highest.
 *
 * Call `init()` once at start: it creates the indexes.
 */
export class MongoTrainerPositions implements TrainerPositions {
  private readonly model: Model<PositionDocument>;

  constructor(connection: Connection, options: MongoTrainerPositionsOptions = {}) {
    const collection = options.collection ?? 'trainer_positions';
    const schema = new Schema<PositionDocument>(
      {
        _id: { type: String, required: true },
        trainerId: { type: String, required: true },
        x: { type: Number, required: true },
        y: { type: Number, required: true },
        isMoving: { type: Boolean, required: true },
        dirX: { type: Number, required: true },
        dirY: { type: Number, required: true },
        speed: { type: Number, required: true },
        startedAt: { type: Number, required: true },
        version: { type: Number, required: true },
        updatedAt: { type: Number, required: true },
        // Absent on rows applied without groups (mongoose would default an array to []).
        groups: { type: [String], default: undefined },
      },
      { versionKey: false, collection, autoIndex: false },
    );
    this.model =
      (connection.models[collection] as Model<PositionDocument> | undefined) ??
      connection.model<PositionDocument>(collection, schema);
  }

  /** Creates the collection's indexes (idempotent). */
  async init(): Promise<void> {
    await this.model.createCollection().catch(ignoreExists);
    await ensureIndexes(this.model.db.db!.collection(this.model.collection.collectionName), [
      { name: 'trainerId_1_version_-1', keys: { trainerId: 1, version: -1 }, unique: true },
      { name: 'updatedAt_1', keys: { updatedAt: 1 } },
    ]);
  }

  async apply(position: TrainerPosition): Promise<boolean> {
    checkPositionRow(position);
    const { trainerId } = position;
    // Two: a lower version beside the highest is one a failed prune left (the apply failed and
    // is retried); refused as not newer, the retry prunes it, else it stayed until the trainer's
    // next move (for ever for one that never moves again), read by every list().
    const [current, lower] = await this.model
      .find({ trainerId })
      .sort({ version: -1 })
      .limit(2)
      .lean();
    if (current && current.version >= position.version) {
      if (lower) await this.model.deleteMany({ trainerId, version: { $lt: current.version } });
      return false;
    }
    try {
      await this.model.create({
        ...positionFields(position),
        _id: `${position.trainerId}|${position.version}`,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return false; // the same version applied concurrently
      throw error;
    }
    await this.model.deleteMany({
      trainerId: position.trainerId,
      version: { $lt: position.version },
    });
    return true;
  }

  async get(trainerId: string): Promise<TrainerPosition | undefined> {
    const [latest] = await this.model.find({ trainerId }).sort({ version: -1 }).limit(1).lean();
    return latest && positionFields(latest);
  }

  async list(trainerIds?: readonly string[]): Promise<TrainerPosition[]> {
    if (trainerIds && trainerIds.length === 0) return [];
    return this.latest(trainerIds ? { trainerId: { $in: [...new Set(trainerIds)] } } : {});
  }

  async recent(since: number): Promise<TrainerPosition[]> {
    // A trainer's versions are stamped in order: when its latest is older, so are the rest.
    return this.latest({ updatedAt: { $gte: since } });
  }

  /** Each trainer's highest version among the documents `filter` finds, sorted by trainerId. */
  private async latest(filter: Record<string, unknown>): Promise<TrainerPosition[]> {
    const latest = new Map<string, TrainerPosition>();
    for (const doc of await this.model.find(filter).lean()) {
      const seen = latest.get(doc.trainerId);
      if (!seen || seen.version < doc.version) latest.set(doc.trainerId, positionFields(doc));
    }
    return [...latest.values()].sort(byTrainerId);
  }
}

export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | undefined)?.code === 11000;
}

/** createCollection on an existing collection: NamespaceExists (48) is fine. */
export function ignoreExists(error: unknown): void {
  if ((error as { code?: number } | undefined)?.code !== 48) throw error;
}
