import { shownValue } from '../config/shown-value';
import type Redis from 'ioredis';
import { ConcurrencyConflictError, StreamDeletedError } from '../event-store/event-store.errors';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ReadAllOptions,
  type ReadAllPage,
  type ReadStreamOptions,
  type RetentionPolicy,
  type StoredEvent,
  type StreamInfo,
  type Subscription,
  type SubscriptionOptions,
} from '../event-store/event-store.port';
import {
  checkAppendEvents,
  serializeForAppend,
  checkStreamId,
  checkAppendOptions,
  checkBeforeVersion,
  checkDeleteStreamOptions,
  checkReadAllOptions,
  checkReadStreamOptions,
  checkRetentionPolicy,
  type DeleteStreamOptions,
  streamState,
} from '../event-store/event-store.rules';
import { pollingSubscription } from '../event-store/polling.subscription';
import { readAllByPages } from '../event-store/read-all.pages';
import {
  decodeStoredEvent,
  locateReadError,
  storedEvent,
} from '../event-store/stored-event.decode';
import { type Envelope } from '../messages/envelope';
import { JsonSerializer } from '../messages/json.serializer';
import { type MessageSerializer } from '../messages/serializer.port';
import { storedTypeNames } from '../messages/type.names';
import {
  recordHasType,
  recordJson,
  recordTimestamp,
  type RedisEventRecord,
} from './redis.event-store.records';
import {
  APPEND_SCRIPT,
  CUT_SCRIPT,
  LAYOUT,
  LAYOUT_SCRIPT,
  READ_ALL_SCRIPT,
  READ_STREAM_SCRIPT,
} from './redis.event-store.scripts';
import { type RedisScript } from './redis.script';

export interface RedisEventStoreOptions {
  /** A connected ioredis client (e.g. `redisConnection(...).client`); the store does not close it. */
  client: Redis;
  /** Prefix of every key. Default `causeway:es:`. In Redis Cluster, put a hash tag in it (`{es}:`). */
  keyPrefix?: string;
  serializer?: MessageSerializer;
  /** Events fetched per round trip by readAll: a positive integer. Default 500. */
  readBatchSize?: number;
}

export type { RedisEventRecord } from './redis.event-store.records';

type ScriptReply = [string, number, number?];

/**
 * Positions readAllPage looks at per call at most, holes and filtered-out events included (and
 * so per READ_ALL_SCRIPT round trip).
 */
const READ_ALL_BUDGET = 10_000;

/**
 * Events age retention reads per round trip: the first page is small (a stream's oldest event
 * is usually young enough already), later ones grow up to the largest.
 */
const AGE_PAGES = { first: 8, largest: 1_000 };

/**
 * The event store on Redis (S2-2). Every append is one Lua script: it checks the tombstone, the
 * expected version and idempotency, takes consecutive positions from one counter and writes the
 * records, the stream index (one entry per append) and the message-id index together (key
 * layout in redis.event-store.scripts.ts). Redis runs scripts one at a time, so an append is
 * atomic and positions become visible in increasing order: every position up to the counter is
 * written, so a reader resuming from its last position never misses one (docs/adr/003).
 *
 * The client builds each record's JSON, version included, and each `#<messageId>` → version
 * pair for the head the append expects, so on the aggregate path (a numeric expected version)
 * the script only fills in the positions and hands its arguments to Redis as they came, one
 * command per key.
 *
 * init() refuses a key prefix that holds data of an older key layout (see LAYOUT).
 *
 * Hazards: everything lives in memory, so persistence is Redis's (AOF/RDB) and retention
 * matters; truncation and retention are O(events of the stream), and retention by age reads
 * the stream's expired events to the client (in pages, up to the first one that is not);
 * readAll with a type filter still walks (and sends to the client) every event after
 * `fromPosition`, though readAllPage's checkpoint moves past them once, and readAll walks
 * the holes that removals leave (up to 10 000 positions per round trip, once: the low-water
 * mark then skips them).
 */
export class RedisEventStore implements EventStore {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly serializer: MessageSerializer;
  private readonly batchSize: number;

  /**
   * @throws TypeError naming `client` when it is missing
   * @throws RangeError naming `readBatchSize` when not a positive integer
   */
  constructor(options: RedisEventStoreOptions) {
    if (!options?.client) {
      throw new TypeError(
        `RedisEventStore: options.client is required, got ${shownValue(options?.client)}`,
      );
    }
    this.client = options.client;
    this.prefix = options.keyPrefix ?? 'causeway:es:';
    this.serializer = options.serializer ?? new JsonSerializer();
    this.batchSize = options.readBatchSize ?? 500;
    // 0 or NaN asked READ_ALL_SCRIPT for no record per round trip: readAllPage looped for ever.
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError(
        `RedisEventStore: options.readBatchSize must be a positive integer, got ${shownValue(this.batchSize)}`,
      );
  }

  /**
   * Records the key layout of an empty prefix (the scripts go to Redis with their first call).
   * @throws Error naming the prefix when it holds data of another key layout
   */
  async init(): Promise<void> {
    const layout = (await LAYOUT_SCRIPT.run(
      this.client,
      [this.key('layout'), this.key('seq')],
      [LAYOUT],
    )) as string;
    if (layout !== LAYOUT) {
      throw new Error(
        `RedisEventStore: the keys under prefix "${this.prefix}" hold event store data of key ` +
          `layout ${layout}, which this version cannot read (it uses layout ${LAYOUT}). ` +
          `Use a new keyPrefix, or delete every key under "${this.prefix}" if that data may go.`,
      );
    }
  }

  async append(
    streamId: string,
    events: readonly Envelope[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    checkStreamId(streamId);
    checkAppendOptions(options);
    checkAppendEvents(events, streamId);
    const expected = options.expectedVersion;
    // The records and id pairs are built here, complete with their versions, for the head the
    // append expects (0 when it names none); the script only rewrites them when the head turns
    // out different. Layout: APPEND_SCRIPT.
    const built = typeof expected === 'number' ? expected : 0;
    const n = events.length;
    const args = new Array<string | number>(5 + 4 * n);
    args[0] = typeof expected === 'number' ? 'n' : expected;
    args[1] = built;
    args[2] = streamId;
    args[3] = n;
    args[4] = built;
    // Serialize everything before sending anything: a failed append writes nothing.
    const serialized = serializeForAppend(this.serializer, streamId, events);
    for (let i = 0; i < n; i++) {
      const envelope = serialized[i]!;
      const version = built + i + 1;
      // The script writes the event's position into the placeholder.
      args[5 + 2 * i] = '';
      args[6 + 2 * i] = recordJson(streamId, version, envelope);
      args[5 + 2 * n + 2 * i] = `#${envelope.messageId}`;
      args[6 + 2 * n + 2 * i] = version;
    }
    const [outcome, value, firstPosition] = await this.run(
      APPEND_SCRIPT,
      this.appendKeys(streamId),
      args,
    );
    if (outcome === 'deleted') throw new StreamDeletedError(streamId);
    if (outcome === 'conflict' || outcome === 'overlap')
      throw new ConcurrencyConflictError(streamId, expected, value, {
        overlap: outcome === 'overlap',
      });
    if (outcome === 'duplicate') return { nextExpectedVersion: value, positions: [] };
    const positions = events.map((_, i) => (firstPosition ?? 0) + i);
    return { nextExpectedVersion: value, positions };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    checkStreamId(streamId);
    checkReadStreamOptions(options);
    const reply = await this.readRecords(streamId, options);
    const result: StoredEvent[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      result.push(this.toStored(Number(reply[i]), reply[i + 1] as string));
    }
    return result;
  }

  async readAll(options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    checkReadAllOptions(options);
    return readAllByPages((o) => this.readAllPage(o), options);
  }

  /**
   * Calls READ_ALL_SCRIPT until the page is full, the log's end is reached, or READ_ALL_BUDGET
   * positions were walked in this call (holes and filtered-out events included), so one call
   * does bounded work however sparse the filter. The checkpoint is the script's cursor (every
   * position up to it was returned or is a hole, and every position up to P:seq is written),
   * or, when the page fills in the middle of a reply, the last record looked at.
   */
  async readAllPage(options: ReadAllOptions = {}): Promise<ReadAllPage> {
    checkReadAllOptions(options);
    const limit = options.limit ?? Infinity;
    const types = storedTypeNames(this.serializer, options.types);
    const keys = [this.key('events'), this.key('seq'), this.key('low')];
    const events: StoredEvent[] = [];
    let position = options.fromPosition ?? 0;
    if (limit <= 0) return { events, position, caughtUp: false };
    let walked = 0;
    for (;;) {
      const want = types ? this.batchSize : Math.min(this.batchSize, limit - events.length);
      const start = position;
      const reply = (await READ_ALL_SCRIPT.run(this.client, keys, [
        position,
        want,
        READ_ALL_BUDGET - walked,
      ])) as (number | string)[];
      for (let i = 2; i < reply.length; i += 2) {
        const at = Number(reply[i]);
        const text = reply[i + 1] as string;
        // The type is checked on the text first, so filtered-out events are not parsed.
        if (!types || this.hasType(at, text, types)) {
          if (events.length >= limit) return { events, position, caughtUp: false };
          events.push(this.toStored(at, text));
        }
        position = at;
      }
      const cursor = Number(reply[0]);
      // A jump over a removed prefix (P:low) counts too: the page then ends sooner, never later.
      walked += cursor - start;
      position = cursor;
      // Caught up with the positions taken when the script ran.
      if (cursor >= Number(reply[1])) return { events, position, caughtUp: true };
      if (events.length >= limit || walked >= READ_ALL_BUDGET)
        return { events, position, caughtUp: false };
    }
  }

  subscribe(options: SubscriptionOptions): Subscription {
    return pollingSubscription((o) => this.readAllPage(o), options, {
      // Every position up to P:seq is taken, none above it.
      end: async () => Number((await this.client.get(this.key('seq'))) ?? 0),
    });
  }

  async streamInfo(streamId: string): Promise<StreamInfo> {
    checkStreamId(streamId);
    const [head, first, soft, tomb, cut] = await this.client.hmget(
      this.key(`m:${streamId}`),
      'head',
      'first',
      'soft',
      'tomb',
      'cut',
    );
    const state = {
      version: Number(head ?? 0),
      firstVersion: Number(first ?? 1),
      tombstoned: tomb !== null,
      softDeletedAt: soft === null ? undefined : Number(soft),
    };
    const kind = streamState(state);
    return {
      streamId,
      version: state.version,
      firstVersion: state.firstVersion,
      state: kind,
      // Marked by the cut itself: an append drops `soft`, so a first version past 1 cannot
      // tell a stream created again after a soft delete from a cut one here.
      ...(kind === 'active' && cut !== null && { truncated: true as const }),
    };
  }

  async deleteStream(streamId: string, options: DeleteStreamOptions): Promise<void> {
    checkStreamId(streamId);
    checkDeleteStreamOptions(options);
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
    checkStreamId(streamId);
    checkBeforeVersion(beforeVersion);
    await this.run(CUT_SCRIPT, this.streamKeys(streamId), [
      'truncate',
      beforeVersion,
      '',
      0,
      '',
      '',
    ]);
  }

  /**
   * Age retention happens here, not in the script: the stream index holds no timestamps. The
   * cut before the stream's first event that is not expired is found by reading the stream
   * forwards, then made by the same script as maxCount (the larger cut wins). Reading first is
   * safe: events never change, and a cut never moves back, so whatever happened to the stream
   * meanwhile, every event below the cut found was readable and expired, or is removed already.
   */
  async applyRetention(policy: RetentionPolicy): Promise<number> {
    checkRetentionPolicy(policy);
    const cutoff = policy.maxAgeMs === undefined ? undefined : Date.now() - policy.maxAgeMs;
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
        const aged = cutoff === undefined ? 0 : await this.firstUnexpired(streamId, cutoff);
        const [, count] = await this.run(CUT_SCRIPT, this.streamKeys(streamId), [
          'retention',
          aged,
          '',
          0,
          policy.maxCount ?? '',
          policy.maxPosition ?? '',
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

  /** READ_STREAM_SCRIPT: `[position, record, …]` in the order read. */
  private async readRecords(
    streamId: string,
    options: ReadStreamOptions,
  ): Promise<(number | string)[]> {
    const backwards = options.direction === 'backwards';
    const low = (backwards ? options.toVersion : options.fromVersion) ?? '';
    const high = (backwards ? options.fromVersion : options.toVersion) ?? '';
    return (await READ_STREAM_SCRIPT.run(
      this.client,
      [this.key(`s:${streamId}`), this.key('events')],
      [low, high, options.limit ?? -1, backwards ? 'backwards' : 'forwards'],
    )) as (number | string)[];
  }

  /**
   * The version of the stream's first readable event whose timestamp is not before `cutoff`,
   * or one past the last readable event when every one is (0 when there is none). An event
   * whose timestamp does not parse never expires. Reads the records without deserializing
   * them, so retention neither verifies checksums nor needs the event types registered.
   */
  private async firstUnexpired(streamId: string, cutoff: number): Promise<number> {
    let next = 0;
    let fromVersion: number | undefined;
    for (let page = AGE_PAGES.first; ; page = Math.min(page * 4, AGE_PAGES.largest)) {
      const reply = await this.readRecords(streamId, { fromVersion, limit: page });
      for (let i = 1; i < reply.length; i += 2) {
        const { version, timestamp } = recordTimestamp(reply[i] as string);
        if (!(timestamp < cutoff)) return version;
        next = version + 1;
      }
      if (reply.length < page * 2) return next;
      fromVersion = next;
    }
  }

  private toStored(position: number, text: string): StoredEvent {
    const record = decodeStoredEvent({ position }, () => JSON.parse(text) as RedisEventRecord);
    const { streamId, version, messageId } = record;
    // The record goes to the serializer as it is (its extra streamId is not kept): no copy.
    const envelope = decodeStoredEvent({ streamId, version, position, messageId }, () =>
      this.serializer.deserialize(record),
    );
    return storedEvent(envelope, { streamId, version, position });
  }

  private hasType(position: number, text: string, types: ReadonlySet<string>): boolean {
    try {
      return recordHasType(text, types);
    } catch (error) {
      throw locateReadError(error, { position });
    }
  }

  private run(
    script: RedisScript,
    keys: string[],
    args: (string | number)[],
  ): Promise<ScriptReply> {
    return script.run(this.client, keys, args) as Promise<ScriptReply>;
  }
}
