import { SnapshotDecodeError } from './snapshot.errors';
import { checkLoadSnapshotOptions, checkSnapshot, checkSnapshotStreamId } from './snapshot.rules';
import { type SnapshotCodecOptions, SnapshotCodec, type SnapshotEncoding } from './snapshot.codec';
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
} from './snapshot-store.port';

interface Entry {
  info: SnapshotInfo;
  payload: Buffer;
}

export interface InMemorySnapshotStoreOptions extends SnapshotStoreOptions, SnapshotCodecOptions {}

/**
 * Snapshot store in process memory, for tests and single-process tools. It encodes states like
 * the durable stores do (serializer + compression), so a state that does not survive the
 * serializer fails here too, not only in production.
 */
export class InMemorySnapshotStore implements SnapshotStore {
  private readonly streams = new Map<string, Entry[]>();
  private readonly codec: SnapshotCodec;
  private readonly keep: number;
  private readonly onUnreadable: SnapshotStoreOptions['onUnreadable'];

  constructor(options: InMemorySnapshotStoreOptions = {}) {
    this.codec = new SnapshotCodec(options);
    this.keep = snapshotRetention(options.keep);
    this.onUnreadable = options.onUnreadable;
  }

  async init(): Promise<void> {}

  async save(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const { payload, encoding, rawBytes } = await this.codec.encode(snapshot.state);
    const entry: Entry = {
      payload,
      info: {
        streamId: snapshot.streamId,
        version: snapshot.version,
        schemaVersion: snapshot.schemaVersion,
        // As the MongoDB and Redis stores give it back: UTC, with milliseconds.
        createdAt: new Date(snapshot.createdAt).toISOString(),
        ...(snapshot.aggregateType !== undefined && { aggregateType: snapshot.aggregateType }),
        encoding,
        storedBytes: payload.length,
        rawBytes,
      },
    };
    const others = (this.streams.get(snapshot.streamId) ?? []).filter(
      (e) =>
        !(e.info.version === snapshot.version && e.info.schemaVersion === snapshot.schemaVersion),
    );
    const all = [...others, entry];
    const beyond = new Set(
      beyondRetention(
        all.map((e) => ({ version: e.info.version, schemaVersion: e.info.schemaVersion, e })),
        snapshot.schemaVersion,
        this.keep,
      ).map(({ e }) => e),
    );
    this.streams.set(snapshot.streamId, all.filter((e) => !beyond.has(e)).sort(newestFirst));
  }

  async loadLatest<State = unknown>(
    streamId: string,
    options: LoadSnapshotOptions,
  ): Promise<StoredSnapshot<State> | undefined> {
    checkSnapshotStreamId(streamId);
    checkLoadSnapshotOptions(options);
    const entries = (this.streams.get(streamId) ?? []).filter(
      (e) => e.info.schemaVersion === options.schemaVersion,
    );
    for (const entry of entries) {
      try {
        return { ...entry.info, state: (await this.decode(entry.info, entry.payload)) as State };
      } catch (error) {
        if (!(error instanceof SnapshotDecodeError)) throw error;
        reportUnreadable(this.onUnreadable, error);
      }
    }
    return undefined;
  }

  async list(streamId: string): Promise<SnapshotInfo[]> {
    checkSnapshotStreamId(streamId);
    return (this.streams.get(streamId) ?? []).map((e) => ({ ...e.info }));
  }

  async delete(streamId: string): Promise<number> {
    checkSnapshotStreamId(streamId);
    const count = this.streams.get(streamId)?.length ?? 0;
    this.streams.delete(streamId);
    return count;
  }

  async close(): Promise<void> {}

  private async decode(info: SnapshotInfo, payload: Buffer): Promise<unknown> {
    try {
      return await this.codec.decode(payload, info.encoding satisfies SnapshotEncoding);
    } catch (error) {
      throw new SnapshotDecodeError(
        info.streamId,
        info.version,
        info.encoding,
        (error as Error).message,
      );
    }
  }
}

function newestFirst(a: Entry, b: Entry): number {
  return b.info.version - a.info.version || b.info.schemaVersion - a.info.schemaVersion;
}
