import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { ConcurrencyConflictError, StreamDeletedError } from '../event-store/event-store.errors';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StoredEvent,
  type StreamInfo,
  type Subscription,
  type SubscriptionOptions,
} from '../event-store/event-store.port';
import { streamState } from '../event-store/event-store.rules';
import { pollingSubscription } from '../event-store/polling.subscription';
import { type Envelope } from '../messages/envelope';
import { JsonSerializer } from '../messages/json.serializer';
import { type MessageSerializer, type SerializedEnvelope } from '../messages/serializer.port';
import { APPEND_SCRIPT, CUT_SCRIPT } from './redis.event-store.scripts';

export interface RedisEventStoreOptions {
  /** A connected ioredis client (e.g. `redisConnection(...).client`); the store does not close it. */
  client: Redis;
  /** Prefix of every key. Default `causeway:es:`. In Redis Cluster, put a hash tag in it (`{es}:`). */
  keyPrefix?: string;
  serializer?: MessageSerializer;
  /** Events fetched per round trip by readAll. Default 500. */
  readBatchSize?: number;
}

/** The stored form of one event: the serialized envelope plus where it lives. */
export interface RedisEventRecord extends SerializedEnvelope {
  readonly streamId: string;
  readonly position: number;
}

type ScriptReply = [string, number, number?];

/**
 * The event store on Redis (S2-2). Every append is one Lua script: it checks the tombstone, the
 * expected version and idempotency, takes positions from one counter and writes the stream, the
 * global log and the message-id index together. Redis runs scripts one at a time, so an append
 * is atomic and positions become visible in increasing order: a reader resuming from its last
 * position never misses one (docs/adr/003).
 *
 * Hazards: everything lives in memory, so persistence is Redis's (AOF/RDB) and retention
 * matters; truncation and retention are O(events of the stream); readAll with a type filter
 * still walks every event after `fromPosition`.
 */
export class RedisEventStore implements EventStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly serializer: MessageSerializer;
  private readonly batchSize: number;
  private readonly scripts = new Map<string, string>();

  constructor(options: RedisEventStoreOptions) {
    this.client = options.client;
    this.prefix = options.keyPrefix ?? 'causeway:es:';
    this.serializer = options.serializer ?? new JsonSerializer();
    this.batchSize = options.readBatchSize ?? 500;
  }

  async init(): Promise<void> {
    for (const script of [APPEND_SCRIPT, CUT_SCRIPT]) {
      this.scripts.set(script, (await this.client.script('LOAD', script)) as string);
    }
  }

  async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const serialized = events.map((event) => this.serializer.serialize(event));
    const expected = options.expectedVersion;
    const args: (string | number)[] = [
      typeof expected === 'number' ? 'n' : expected,
      typeof expected === 'number' ? expected : 0,
      streamId,
      serialized.length,
    ];
    for (const envelope of serialized) {
      const { version: _ignored, ...rest } = envelope;
      const timestamp = Date.parse(envelope.metadata.timestamp);
      args.push(
        envelope.messageId,
        Number.isNaN(timestamp) ? '' : timestamp,
        JSON.stringify({ streamId, ...rest }).slice(1),
      );
    }
    const [outcome, value, firstPosition] = await this.run(
      APPEND_SCRIPT,
      this.streamKeys(streamId, true),
      args,
    );
    if (outcome === 'deleted') throw new StreamDeletedError(streamId);
    if (outcome === 'conflict') throw new ConcurrencyConflictError(streamId, expected, value);
    if (outcome === 'duplicate') return { nextExpectedVersion: value, positions: [] };
    const positions = serialized.map((_, i) => (firstPosition ?? 0) + i);
    return { nextExpectedVersion: value, positions };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const key = this.key(`s:${streamId}`);
    const backwards = options.direction === 'backwards';
    const low = (backwards ? options.toVersion : options.fromVersion) ?? '-inf';
    const high = (backwards ? options.fromVersion : options.toVersion) ?? '+inf';
    const count = options.limit ?? -1;
    const members = backwards
      ? await this.client.zrevrangebyscore(key, high, low, 'LIMIT', 0, count)
      : await this.client.zrangebyscore(key, low, high, 'LIMIT', 0, count);
    const records = await this.records(
      members.map((member) => member.slice(0, member.indexOf(':'))),
    );
    return records.map((record) => this.toStored(record));
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? Infinity;
    const types = options.types ? new Set(options.types) : undefined;
    const result: StoredEvent[] = [];
    let from = options.fromPosition ?? 0;
    while (result.length < limit) {
      const positions = await this.client.zrangebyscore(
        this.key('log'),
        `(${from}`,
        '+inf',
        'LIMIT',
        0,
        this.batchSize,
      );
      if (positions.length === 0) break;
      for (const record of await this.records(positions)) {
        if (result.length >= limit) break;
        if (!types || types.has(record.type)) result.push(this.toStored(record));
      }
      from = Number(positions[positions.length - 1]);
    }
    return result;
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return pollingSubscription((o) => this.readAll(o), options);
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    const [head, first, soft, tomb] = await this.client.hmget(
      this.key(`m:${streamId}`),
      'head',
      'first',
      'soft',
      'tomb',
    );
    const state = {
      version: Number(head ?? 0),
      firstVersion: Number(first ?? 1),
      tombstoned: tomb !== null,
      softDeletedAt: soft === null ? undefined : Number(soft),
    };
    return {
      streamId,
      version: state.version,
      firstVersion: state.firstVersion,
      state: streamState(state),
    };
  }

  async deleteStream(
    streamId: string,
    options: { mode: 'soft' | 'hard'; expectedVersion?: ExpectedVersion },
  ): Promise<void> {
    const expected = options.expectedVersion;
    const [outcome, value] = await this.run(CUT_SCRIPT, this.streamKeys(streamId, false), [
      options.mode,
      0,
      expected === undefined ? '' : typeof expected === 'number' ? 'n' : expected,
      typeof expected === 'number' ? expected : 0,
      '',
      '',
    ]);
    if (outcome === 'deleted') throw new StreamDeletedError(streamId);
    if (outcome === 'conflict')
      throw new ConcurrencyConflictError(streamId, expected ?? 'any', value);
  }

  async truncateStream(streamId: string, beforeVersion: number): Promise<void> {
    await this.run(CUT_SCRIPT, this.streamKeys(streamId, false), [
      'truncate',
      beforeVersion,
      '',
      0,
      '',
      '',
    ]);
  }

  async applyRetention(policy: RetentionPolicy): Promise<number> {
    const cutoff = policy.maxAgeMs === undefined ? '' : Date.now() - policy.maxAgeMs;
    const match =
      policy.streamPrefix === undefined
        ? '*'
        : `${policy.streamPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let removed = 0;
    let cursor = '0';
    do {
      const [next, streamIds] = await this.client.sscan(
        this.key('streams'),
        cursor,
        'MATCH',
        match,
        'COUNT',
        500,
      );
      cursor = next;
      for (const streamId of streamIds) {
        const [, count] = await this.run(CUT_SCRIPT, this.streamKeys(streamId, false), [
          'retention',
          0,
          '',
          0,
          policy.maxCount ?? '',
          cutoff,
        ]);
        removed += count;
      }
    } while (cursor !== '0');
    return removed;
  }

  /** The shared client belongs to its connection manager: nothing to close here. */
  async close(): Promise<void> {}

  private key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  private streamKeys(streamId: string, forAppend: boolean): string[] {
    const keys = [
      this.key(`m:${streamId}`),
      this.key(`s:${streamId}`),
      this.key(`i:${streamId}`),
      this.key('events'),
      this.key('log'),
    ];
    return forAppend ? [...keys, this.key('seq'), this.key('streams')] : keys;
  }

  private async records(positions: readonly string[]): Promise<RedisEventRecord[]> {
    if (positions.length === 0) return [];
    const raw = await this.client.hmget(this.key('events'), ...positions);
    // A record removed between the two reads (truncation, retention) is simply gone.
    return raw.flatMap((text) => (text === null ? [] : [JSON.parse(text) as RedisEventRecord]));
  }

  private toStored(record: RedisEventRecord): StoredEvent {
    const { streamId, position, ...serialized } = record;
    const envelope = this.serializer.deserialize(serialized);
    return { ...envelope, version: record.version, streamId, position };
  }

  private async run(
    script: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<ScriptReply> {
    const sha = this.scripts.get(script) ?? createHash('sha1').update(script).digest('hex');
    try {
      return (await this.client.evalsha(sha, keys.length, ...keys, ...args)) as ScriptReply;
    } catch (error) {
      // After a restart or SCRIPT FLUSH the server forgot the script: send it again.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await this.client.eval(script, keys.length, ...keys, ...args)) as ScriptReply;
    }
  }
}
