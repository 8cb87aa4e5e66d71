import { type Connection, type Model, Schema } from 'mongoose';
import { type CheckpointStore } from '../outbox/checkpoint-store.port';

interface CheckpointDocument {
  _id: string;
  position: number;
  updatedAt: Date;
}

/**
 * Checkpoints in MongoDB, one document per name. `save` never moves a checkpoint backwards:
 * the update only matches while the stored position is lower (no `$max`, no transactions —
 * FerretDB and MongoDB alike); a duplicate-key race on the first save is retried once.
 */
export class MongoCheckpointStore implements CheckpointStore {
  private readonly model: Model<CheckpointDocument>;

  constructor(connection: Connection, collection = 'checkpoints') {
    const schema = new Schema<CheckpointDocument>(
      {
        _id: { type: String, required: true },
        position: { type: Number, required: true },
        updatedAt: { type: Date, required: true },
      },
      { versionKey: false, collection },
    );
    this.model =
      (connection.models[collection] as Model<CheckpointDocument> | undefined) ??
      connection.model<CheckpointDocument>(collection, schema);
  }

  async load(name: string): Promise<number> {
    const document = await this.model.findById(name).lean();
    return document?.position ?? 0;
  }

  async save(name: string, position: number): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.model.updateOne(
          { _id: name, position: { $lt: position } },
          { $set: { position, updatedAt: new Date() } },
          { upsert: true },
        );
        return;
      } catch (error) {
        // Upsert when a higher checkpoint exists: the filter misses, the insert hits the _id → E11000. Nothing to do.
        if ((error as { code?: number }).code === 11000) {
          if ((await this.load(name)) >= position) return;
          continue;
        }
        throw error;
      }
    }
  }
}
