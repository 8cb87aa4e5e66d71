import { RedisScript } from './redis.script';
import type Redis from 'ioredis';
import { SnapshotDecodeError } from '../snapshots/snapshot.errors';
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
  reportUnreadable,
  snapshotRetention,
} from '../snapshots/snapshot-store.port';

export interface RedisSnapshotStoreOptions extends SnapshotStoreOptions, SnapshotCodecOptions {
  /** A connected ioredis client (e.g. `redisConnection(...).client`); the store does not close it. */
  client: Redis;
  /** Prefix of every key. Default `causeway:snap:`. */
  keyPrefix?: string;
}

/** What is kept beside a snapshot's payload (SnapshotInfo without the key). */
interface SnapshotMeta {
  createdAt: string;
  encoding: SnapshotEncoding;
  storedBytes: number;
  rawBytes: number;
  aggregateType?: string;
}

/**
 * Saves a snapshot and applies the retention (snapshot-store.port: beyondRetention) in one
 * atomic step. KEYS: the stream's index (sorted set: `<schemaVersion>:<version>` by version) and
 * its data (hash: that member → the meta JSON, `<member>:state` → the payload). ARGV: member,
 * version, meta, payload, the saved schema version, keep.
 */
const SAVE = new RedisScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3], ARGV[1] .. ':state', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local kept = {}
for _, member in ipairs(members) do
  local schema = string.match(member, '^(-?%d+):')
  local count = (kept[schema] or 0) + 1
  kept[schema] = count
  local limit = 1
  if schema == ARGV[5] then limit = tonumber(ARGV[6]) end
  if count > limit then
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member, member .. ':state')
  end
end
return 1`);

/**
 * Reads, in one atomic step, the `ARGV[2]`-th (0: newest) snapshot of a stream whose member
 * starts with ARGV[1] (`<schemaVersion>:`): { member, meta, payload }, or nil. Atomic, so a save
 * trimming it meanwhile cannot make a load miss every snapshot.
 */
const LOAD = new RedisScript(`
local members = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local skip = tonumber(ARGV[2])
for _, member in ipairs(members) do
  if string.sub(member, 1, #ARGV[1]) == ARGV[1] then
    if skip == 0 then
      local found = redis.call('HMGET', KEYS[2], member, member .. ':state')
      return { member, found[1], found[2] }
    end
    skip = skip - 1
  end
end
return nil`);

/**
 * Redis snapshot store (S2-3), for services on the Redis event store: per stream, a sorted set
 * of its snapshots by version and a hash of their metadata and payloads (serialized and
 * compressed above a threshold, as every store does). A save and its retention are one script,
 * so concurrent saves of a stream never leave more than the retention allows. A load is one
 * script too (the newest snapshot of the schema version, with its metadata and payload: a save
 * trimming it meanwhile cannot make the load miss), and one more per snapshot that cannot be
 * decoded, for the next older one.
 *
 * Keys are `<keyPrefix>i:<streamId>` and `<keyPrefix>d:<streamId>` on one node (no hash tags:
 * as the Redis event store, not for Redis Cluster). Snapshots do not expire: `delete` removes a
 * stream's.
 */
export class RedisSnapshotStore implements SnapshotStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly codec: SnapshotCodec;
  private readonly keep: number;
  private readonly onUnreadable: SnapshotStoreOptions['onUnreadable'];

  constructor(options: RedisSnapshotStoreOptions) {
    if (typeof options?.client?.eval !== 'function')
      throw new TypeError('RedisSnapshotStore: options.client must be a connected ioredis client');
    this.client = options.client;
    this.prefix = options.keyPrefix ?? 'causeway:snap:';
    this.codec = new SnapshotCodec(options);
    this.keep = snapshotRetention(options.keep);
    this.onUnreadable = options.onUnreadable;
  }

  /** Nothing to create: keys come with the first save. */
  async init(): Promise<void> {}

  async save(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const { payload, encoding, rawBytes } = await this.codec.encode(snapshot.state);
    const meta: SnapshotMeta = {
      createdAt: new Date(snapshot.createdAt).toISOString(),
      encoding,
      storedBytes: payload.length,
      rawBytes,
      ...(snapshot.aggregateType !== undefined && { aggregateType: snapshot.aggregateType }),
    };
    await SAVE.run(
      this.client,
      [this.indexKey(snapshot.streamId), this.dataKey(snapshot.streamId)],
      [
        memberOf(snapshot.schemaVersion, snapshot.version),
        snapshot.version,
        JSON.stringify(meta),
        payload,
        snapshot.schemaVersion,
        this.keep,
      ],
    );
  }

  async loadLatest<State = unknown>(
    streamId: string,
    options: LoadSnapshotOptions,
  ): Promise<StoredSnapshot<State> | undefined> {
    checkSnapshotStreamId(streamId);
    checkLoadSnapshotOptions(options);
    const prefix = `${options.schemaVersion}:`;
    // Newest first, one at a time: the next one is read only when this one cannot be decoded.
    for (let skip = 0; ; skip++) {
      const found = (await LOAD.runBuffer(
        this.client,
        [this.indexKey(streamId), this.dataKey(streamId)],
        [prefix, skip],
      )) as [Buffer, Buffer | null, Buffer | null] | null;
      if (!found) return undefined;
      const [memberBuffer, meta, payload] = found;
      const member = memberBuffer.toString('utf8');
      if (!meta || !payload) continue;
      let info: SnapshotInfo | undefined;
      try {
        info = infoOf(streamId, member, JSON.parse(meta.toString('utf8')) as SnapshotMeta);
        const state = (await this.codec.decode(payload, info.encoding)) as State;
        return { ...info, state };
      } catch (error) {
        const reason = (error as Error).message;
        reportUnreadable(
          this.onUnreadable,
          new SnapshotDecodeError(
            streamId,
            Number(member.split(':')[1]),
            info?.encoding ?? 'unknown',
            reason,
          ),
        );
      }
    }
  }

  async list(streamId: string): Promise<SnapshotInfo[]> {
    checkSnapshotStreamId(streamId);
    const members = await this.client.zrange(this.indexKey(streamId), 0, -1);
    if (members.length === 0) return [];
    const metas = await this.client.hmget(this.dataKey(streamId), ...members);
    return members
      .flatMap((member, i) =>
        metas[i] ? [infoOf(streamId, member, JSON.parse(metas[i]) as SnapshotMeta)] : [],
      )
      .sort((a, b) => b.version - a.version || b.schemaVersion - a.schemaVersion);
  }

  async delete(streamId: string): Promise<number> {
    checkSnapshotStreamId(streamId);
    const replies = await this.client
      .multi()
      .zcard(this.indexKey(streamId))
      .del(this.indexKey(streamId), this.dataKey(streamId))
      .exec();
    const [error, count] = replies?.[0] ?? [null, 0];
    if (error) throw error;
    return Number(count);
  }

  /** The client belongs to the caller: nothing to release here. */
  async close(): Promise<void> {}

  private indexKey(streamId: string): string {
    return `${this.prefix}i:${streamId}`;
  }

  private dataKey(streamId: string): string {
    return `${this.prefix}d:${streamId}`;
  }
}

function memberOf(schemaVersion: number, version: number): string {
  return `${schemaVersion}:${version}`;
}

function infoOf(streamId: string, member: string, meta: SnapshotMeta): SnapshotInfo {
  const [schemaVersion, version] = member.split(':').map(Number) as [number, number];
  return {
    streamId,
    version,
    schemaVersion,
    createdAt: meta.createdAt,
    ...(meta.aggregateType !== undefined && { aggregateType: meta.aggregateType }),
    encoding: meta.encoding,
    storedBytes: meta.storedBytes,
    rawBytes: meta.rawBytes,
  };
}
