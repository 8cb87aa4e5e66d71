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
import { type MessageSerializer } from '../messages/serializer.port';
import { recordHasType, recordJson, type RedisEventRecord } from './redis.event-store.records';
import {
  APPEND_SCRIPT,
  CUT_SCRIPT,
  READ_ALL_SCRIPT,
  READ_STREAM_SCRIPT,
} from './redis.event-store.scripts';

export interface RedisEventStoreOptions {
  /** A connected ioredis client (e.g. `redisConnection(...).client`); the store does not close it. */
  client: Redis;
  /** Prefix of every key. Default `causeway:es:`. In Redis Cluster, put a hash tag in it (`{es}:`). */
  keyPrefix?: string;
  serializer?: MessageSerializer;
  /** Events fetched per round trip by readAll. Default 500. */
  readBatchSize?: number;
}

export type { RedisEventRecord } from './redis.event-store.records';

type ScriptReply = [string, number, number?];

/** Positions readAll looks at per round trip at most, holes included (see READ_ALL_SCRIPT). */
const READ_ALL_BUDGET = 10_000;

/**
 * The event store on Redis (S2-2). Every append is one Lua script: it checks the tombstone, the
 * expected version and idempotency, takes consecutive positions from one counter and writes the
 * records, the stream index and the message-id index together (key layout in
 * redis.event-store.scripts.ts). Redis runs scripts one at a time, so an append is atomic and
 * positions become visible in increasing order: every position up to the counter is written,
 * so a reader resuming from its last position never misses one (docs/adr/003).
 *
 * The client builds each record's JSON, version included, for the head the append expects, so
 * on the aggregate path (a numeric expected version) the script stores it untouched.
 *
 * Hazards: everything lives in memory, so persistence is Redis's (AOF/RDB) and retention
 * matters; truncation and retention are O(events of the stream); readAll with a type filter
 * still walks every event after `fromPosition`, and readAll walks the holes that removals leave
 * (up to 10 000 positions per round trip, once: the low-water mark then skips them).
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
    for (const script of [APPEND_SCRIPT, CUT_SCRIPT, READ_ALL_SCRIPT, READ_STREAM_SCRIPT]) {
      this.scripts.set(script, (await this.client.script('LOAD', script)) as string);
    }
  }

  async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    const expected = options.expectedVersion;
    // The records are built here, complete with their versions, for the head the append expects
    // (0 when it names none); the script only rewrites them when the head turns out different.
    const built = typeof expected === 'number' ? expected : 0;
    const args: (string | number)[] = [
      typeof expected === 'number' ? 'n' : expected,
      built,
      streamId,
      events.length,
      built,
    ];
    // Serialize everything before sending anything: a failed append writes nothing.
    for (const [i, event] of events.entries()) {
      const envelope = this.serializer.serialize(event);
      const timestamp = Date.parse(envelope.metadata.timestamp);
      args.push(
        `#${envelope.messageId}`,
        Number.isNaN(timestamp) ? '' : timestamp,
        recordJson(streamId, built + i + 1, envelope),
      );
    }
    const [outcome, value, firstPosition] = await this.run(
      APPEND_SCRIPT,
      this.appendKeys(streamId),
      args,
    );
    if (outcome === 'deleted') throw new StreamDeletedError(streamId);
    if (outcome === 'conflict') throw new ConcurrencyConflictError(streamId, expected, value);
    if (outcome === 'duplicate') return { nextExpectedVersion: value, positions: [] };
    const positions = events.map((_, i) => (firstPosition ?? 0) + i);
    return { nextExpectedVersion: value, positions };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    const backwards = options.direction === 'backwards';
    const low = (backwards ? options.toVersion : options.fromVersion) ?? '-inf';
    const high = (backwards ? options.fromVersion : options.toVersion) ?? '+inf';
    const reply = (await this.evalsha(
      READ_STREAM_SCRIPT,
      [this.key(`s:${streamId}`), this.key('events')],
      [low, high, options.limit ?? -1, backwards ? 'backwards' : 'forwards'],
    )) as string[];
    const result: StoredEvent[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      result.push(this.toStored(Number(reply[i]), reply[i + 1]!));
    }
    return result;
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? Infinity;
    const types = options.types ? new Set(options.types) : undefined;
    const keys = [this.key('events'), this.key('seq'), this.key('low')];
    const result: StoredEvent[] = [];
    let from = options.fromPosition ?? 0;
    while (result.length < limit) {
      const want = types ? this.batchSize : Math.min(this.batchSize, limit - result.length);
      const reply = (await this.evalsha(READ_ALL_SCRIPT, keys, [from, want, READ_ALL_BUDGET])) as (
        number | string
      )[];
      for (let i = 2; i < reply.length && result.length < limit; i += 2) {
        const text = reply[i + 1] as string;
        // The type is checked on the text first, so filtered-out events are not parsed.
        if (types && !recordHasType(text, types)) continue;
        result.push(this.toStored(Number(reply[i]), text));
      }
      from = Number(reply[0]);
      // Caught up with the positions taken when the script ran.
      if (from >= Number(reply[1])) break;
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
    const [outcome, value] = await this.run(CUT_SCRIPT, this.streamKeys(streamId), [
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
    await this.run(CUT_SCRIPT, this.streamKeys(streamId), [
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
        const [, count] = await this.run(CUT_SCRIPT, this.streamKeys(streamId), [
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

  /** KEYS of CUT_SCRIPT; APPEND_SCRIPT takes the same first three (see appendKeys). */
  private streamKeys(streamId: string): string[] {
    return [this.key(`m:${streamId}`), this.key(`s:${streamId}`), this.key('events')];
  }

  private appendKeys(streamId: string): string[] {
    return [...this.streamKeys(streamId), this.key('seq'), this.key('streams')];
  }

  private toStored(position: number, text: string): StoredEvent {
    const { streamId, ...serialized } = JSON.parse(text) as RedisEventRecord;
    const envelope = this.serializer.deserialize(serialized);
    return { ...envelope, version: serialized.version, streamId, position };
  }

  private async run(
    script: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<ScriptReply> {
    return (await this.evalsha(script, keys, args)) as ScriptReply;
  }

  private async evalsha(
    script: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    const sha = this.scripts.get(script) ?? createHash('sha1').update(script).digest('hex');
    try {
      return await this.client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      // After a restart or SCRIPT FLUSH the server forgot the script: send it again.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.client.eval(script, keys.length, ...keys, ...args);
    }
  }
}
