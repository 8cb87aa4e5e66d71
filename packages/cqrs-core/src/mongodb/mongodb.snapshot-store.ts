import { shownValue } from '../config/shown-value';
import { type Connection, type Model, Schema } from 'mongoose';
import { SnapshotDecodeError } from '../snapshots/snapshot.errors';
import { MAX_DOCUMENT_BYTES, sizeOver } from './mongodb.document-size';
import { ensureIndexes } from './mongodb.indexes';
import {
  checkLoadSnapshotOptions,
  checkSnapshot,
  checkSnapshotStreamId,
} from '../snapshots/snapshot.rules';
import {
  type SnapshotCodecOptions,
  SnapshotCodec,
  type SnapshotEncoding,
} from '../snapshots/snapshot.codec';
import {
  type LoadSnapshotOptions,
  type Snapshot,
  type SnapshotInfo,
  type SnapshotStore,
  type SnapshotStoreOptions,
  type StoredSnapshot,
  beyondRetention,
  reportUnreadable,
  snapshotRetention,
} from '../snapshots/snapshot-store.port';

export interface MongoSnapshotStoreOptions extends SnapshotStoreOptions, SnapshotCodecOptions {
  /** An open mongoose connection (see mongoConnection). The store does not close it. */
  connection: Connection;
  /** Default 'snapshots'. */
  collection?: string;
}

interface SnapshotDocument {
  streamId: string;
  version: number;
  schemaVersion: number;
  aggregateType?: string;
  createdAt: Date;
  encoding: SnapshotEncoding;
  /** The serialized (and maybe compressed) state: opaque bytes, so state keys may contain '.' and '$'. */
  payload: Buffer;
  storedBytes: number;
  rawBytes: number;
}

const snapshotSchema = new Schema<SnapshotDocument>(
  {
    streamId: { type: String, required: true },
    version: { type: Number, required: true },
    schemaVersion: { type: Number, required: true },
    aggregateType: { type: String },
    createdAt: { type: Date, required: true },
    encoding: { type: String, required: true },
    payload: { type: Buffer, required: true },
    storedBytes: { type: Number, required: true },
    rawBytes: { type: Number, required: true },
  },
  // Indexes and the collection are created in init(), not behind the caller's back.
  { autoIndex: false, autoCreate: false, versionKey: false, strict: 'throw' },
);
// One snapshot per (stream, schema, version); serves loadLatest (equality, equality, sort).
/** Unique: one snapshot per stream, state schema and version. Indexes: see init. */
const SNAPSHOT_KEY = { streamId: 1, schemaVersion: 1, version: -1 } as const;
// Serves list() and retention (newest first per stream).

const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;

/**
 * MongoDB snapshot store (S2-3), FerretDB-compatible: one document per snapshot, no
 * transactions, no TTL or partial indexes, no projection on findOneAndUpdate. The state is
 * stored as Binary (serialized, compressed above a threshold) so its keys are never subject to
 * MongoDB's key restrictions and its nesting depth does not matter.
 *
 * Retention runs after each save: snapshots beyond the newest `keep` of the stream are removed
 * with a deleteMany by _id (two statements, not atomic: a crash in between leaves extra
 * snapshots that the next save removes).
 */
export class MongoSnapshotStore implements SnapshotStore {
  private readonly model: Model<SnapshotDocument>;
  private readonly codec: SnapshotCodec;
  private readonly keep: number;
  private readonly onUnreadable: SnapshotStoreOptions['onUnreadable'];

  constructor(options: MongoSnapshotStoreOptions) {
    if (typeof options?.connection?.model !== 'function')
      throw new TypeError(
        `MongoSnapshotStore: options.connection must be a mongoose connection (mongoConnection(...).client), got ${shownConnection(options?.connection)}`,
      );
    const collection = options.collection ?? 'snapshots';
    const modelName = `CausewaySnapshot:${collection}`;
    this.model =
      (options.connection.models[modelName] as Model<SnapshotDocument> | undefined) ??
      options.connection.model<SnapshotDocument>(modelName, snapshotSchema, collection);
    this.codec = new SnapshotCodec(options);
    this.keep = snapshotRetention(options.keep);
    this.onUnreadable = options.onUnreadable;
  }

  async init(): Promise<void> {
    try {
      await this.model.createCollection();
    } catch (error) {
      if ((error as { code?: number }).code !== NAMESPACE_EXISTS) throw error;
    }
    await ensureIndexes(this.model.db.db!.collection(this.model.collection.collectionName), [
      { name: 'streamId_1_schemaVersion_1_version_-1', keys: SNAPSHOT_KEY, unique: true },
      { name: 'streamId_1_version_-1', keys: { streamId: 1, version: -1 } },
    ]);
  }

  async save(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const { payload, encoding, rawBytes } = await this.codec.encode(snapshot.state);
    const key = {
      streamId: snapshot.streamId,
      schemaVersion: snapshot.schemaVersion,
      version: snapshot.version,
    };
    const fields = {
      ...key,
      createdAt: new Date(snapshot.createdAt),
      encoding,
      payload,
      storedBytes: payload.length,
      rawBytes,
      ...(snapshot.aggregateType !== undefined && { aggregateType: snapshot.aggregateType }),
    };
    // Payload + 1 KiB bounds the document (a stream id and type of up to ~300 characters).
    const bound =
      payload.length +
      3 * (snapshot.streamId.length + (snapshot.aggregateType?.length ?? 0)) +
      1024;
    const size = sizeOver({ _id: 0, ...fields }, bound);
    if (size !== undefined)
      throw new RangeError(
        `The snapshot of ${snapshot.streamId} at version ${snapshot.version} takes ${size} ` +
          `bytes as a document, over MongoDB's maximum of ${MAX_DOCUMENT_BYTES}: not saved ` +
          '(loads replay the events); compress it (compression) or snapshot a smaller state',
      );
    // Saved again at the same key, the snapshot is replaced whole: a field the new one leaves
    // out is removed, not kept from the old one.
    const update = {
      $set: fields,
      ...(snapshot.aggregateType === undefined && { $unset: { aggregateType: '' } }),
    };
    const upsert = () => this.model.updateOne(key, update, { upsert: true });
    try {
      await upsert();
    } catch (error) {
      // Two concurrent upserts of the same key: the loser's insert hits the unique index.
      // The document exists now, so the retried update matches it.
      if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
      await upsert();
    }
    await this.trim(snapshot.streamId, snapshot.schemaVersion);
  }

  async loadLatest<State = unknown>(
    streamId: string,
    options: LoadSnapshotOptions,
  ): Promise<StoredSnapshot<State> | undefined> {
    checkSnapshotStreamId(streamId);
    checkLoadSnapshotOptions(options);
    // Newest first, one at a time: the next one is read only when this one cannot be decoded.
    const cursor = this.model
      .find({ streamId, schemaVersion: options.schemaVersion })
      .sort({ version: -1 })
      .batchSize(1)
      .lean<Array<SnapshotDocument & { payload: unknown }>>()
      .cursor();
    try {
      for await (const doc of cursor) {
        const info = toInfo(doc);
        try {
          const state = (await this.codec.decode(toBuffer(doc.payload), doc.encoding)) as State;
          return { ...info, state };
        } catch (error) {
          const message = (error as Error).message;
          const unreadable = new SnapshotDecodeError(streamId, doc.version, doc.encoding, message);
          reportUnreadable(this.onUnreadable, unreadable);
        }
      }
      return undefined;
    } finally {
      await cursor.close();
    }
  }

  async list(streamId: string): Promise<SnapshotInfo[]> {
    checkSnapshotStreamId(streamId);
    const docs = await this.model
      .find({ streamId }, { payload: 0 })
      .sort({ version: -1, schemaVersion: -1 })
      .lean<SnapshotDocument[]>();
    return docs.map(toInfo);
  }

  async delete(streamId: string): Promise<number> {
    checkSnapshotStreamId(streamId);
    const result = await this.model.deleteMany({ streamId });
    return result.deletedCount;
  }

  /** The connection belongs to the caller: nothing to release here. */
  async close(): Promise<void> {}

  private async trim(streamId: string, schemaVersion: number): Promise<void> {
    const all = await this.model
      .find({ streamId }, { _id: 1, version: 1, schemaVersion: 1 })
      .lean<{ _id: unknown; version: number; schemaVersion: number }[]>();
    const beyond = beyondRetention(all, schemaVersion, this.keep);
    if (beyond.length > 0)
      await this.model.deleteMany({ _id: { $in: beyond.map((doc) => doc._id) } });
  }
}

function toInfo(doc: SnapshotDocument): SnapshotInfo {
  return {
    streamId: doc.streamId,
    version: doc.version,
    schemaVersion: doc.schemaVersion,
    createdAt: new Date(doc.createdAt).toISOString(),
    ...(doc.aggregateType != null && { aggregateType: doc.aggregateType }),
    encoding: doc.encoding,
    storedBytes: doc.storedBytes,
    rawBytes: doc.rawBytes,
  };
}

/** Lean reads return BSON Binary, not Buffer. */
function toBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  const binary = payload as { buffer?: Uint8Array };
  if (binary.buffer instanceof Uint8Array)
    return Buffer.from(binary.buffer.buffer, binary.buffer.byteOffset, binary.buffer.byteLength);
  throw new TypeError('snapshot payload is neither a Buffer nor a BSON Binary');
}

/** What was passed instead of a mongoose connection, for the error: the managed one says so. */
function shownConnection(given: unknown): string {
  const client = (given as { client?: { model?: unknown } } | null | undefined)?.client;
  if (typeof client?.model === 'function')
    return 'a connection or an object holding the client: pass its .client';
  return typeof given === 'object' && given !== null ? 'another object' : shownValue(given);
}
