import { shownValue } from '../config/shown-value';
import type Redis from 'ioredis';
import { type Counter, type Registry } from 'prom-client';
import { registeredCounter } from '../metrics/registered.metric';
import { type Envelope, type Priority } from '../messages/envelope';
import { DEFAULT_MAX_WIRE_BYTES } from '../messages/json.serializer';
import { MessageTooLargeError } from '../messages/message.errors';
import { type Publisher } from '../transport/transport.port';
import { checkCounts } from '../transport/count-options.check';
import { encodeForWire } from '../transport/wire.codec';
import { TransportClosedError } from './redis-streams.errors';
import { StreamKeys } from './redis-streams.keys';
import { checkOrderKey } from '../transport/order-key.check';
import { checkTopic } from '../transport/topic.check';
import { checkRedisClient } from './redis.client-check';
import { checkSerializerOption } from '../transport/transport-options.check';
import { type RedisStreamsPublisherOptions } from './redis-streams.options';

/** Field names of a stream entry: the order key and the wire text of the envelope. */
export const ENTRY_KEY_FIELD = 'key';
export const ENTRY_MESSAGE_FIELD = 'msg';

/**
 * Publishes to Redis Streams: `XADD <prefix><topic>:<lane>:<partition> MAXLEN ~ n * key <aggregateId> msg <wire>`.
 * The partition is a stable hash of the aggregateId, so a key's messages share one stream per
 * lane and keep their order.
 *
 * Contract (see Publisher): safe to call concurrently; a single message is one plain XADD, a
 * batch of several one MULTI/EXEC round trip, so it becomes visible to consumers at once;
 * resolves when Redis replied to the XADD or EXEC (durable as far as the server's appendfsync
 * policy goes — `always` for "nothing acknowledged is lost"). Concurrent calls are written back
 * to back on the shared connection (pipelined), in call order; single-message calls made in the
 * same synchronous stretch share one socket write (SingleXadds).
 * Hazard: `MAXLEN ~` trims the oldest entries even if a consumer group has not read them yet;
 * size it above the longest backlog you expect.
 */
export class RedisStreamsPublisher implements Publisher {
  private readonly keys: StreamKeys;
  private readonly maxLenOf: (topic: string) => number;
  private readonly maxBytes: number;
  private readonly published: Counter | undefined;
  private readonly singles: SingleXadds;
  private closed = false;

  /**
   * @throws TypeError naming `client` or `serializer` when it is missing or not an ioredis client
   *   / a MessageSerializer, or `maxMessageBytes` when it is no positive integer
   */
  constructor(private readonly options: RedisStreamsPublisherOptions) {
    for (const name of ['client', 'serializer'] as const) {
      if (!options?.[name]) {
        throw new TypeError(
          `RedisStreamsPublisher: options.${name} is required, got ${shownValue(options?.[name])}`,
        );
      }
    }
    // A Kafka client, a connection (not its .client) or a serializer without its methods failed
    // only at the first XADD, XREADGROUP or message.
    checkRedisClient(options.client, 'RedisStreamsPublisher', 'options.client');
    checkSerializerOption('RedisStreamsPublisher', options.serializer);
    this.keys = new StreamKeys(options);
    const maxLen = options.maxLenPerStream ?? 100_000;
    if (typeof maxLen === 'function') {
      this.maxLenOf = (topic) => {
        const length = maxLen(topic);
        if (!isLength(length))
          throw new TypeError(
            `RedisStreamsPublisher: options.maxLenPerStream(${topic}) must be a positive integer, got ${shownValue(length)}`,
          );
        return length;
      };
    } else if (isLength(maxLen)) {
      this.maxLenOf = () => maxLen;
    } else {
      throw new TypeError(
        `RedisStreamsPublisher: options.maxLenPerStream must be a positive integer or a function of the topic, got ${shownValue(maxLen)}`,
      );
    }
    checkCounts('RedisStreamsPublisher', { maxMessageBytes: options.maxMessageBytes }, [
      'maxMessageBytes',
    ]);
    this.maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_WIRE_BYTES;
    this.published = options.registry ? publishedCounter(options.registry) : undefined;
    this.singles = new SingleXadds(options.client);
  }

  /**
   * @throws InvalidTopicError when `topic` is not a non-empty string (checkTopic): its streams
   *   are named after it, and `undefined:normal:<n>` is read by no subscription (nothing is
   *   written)
   */
  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    if (this.closed) throw new TransportClosedError('RedisStreamsPublisher');
    checkTopic('RedisStreamsPublisher.publish', topic);
    // Encode and check everything first: a refused message stops the whole batch before any write.
    const entries = messages.map((envelope) => {
      checkOrderKey('RedisStreamsPublisher.publish', topic, envelope);
      const raw = encodeForWire(this.options.serializer, envelope);
      const size = Buffer.byteLength(raw);
      if (size > this.maxBytes)
        throw new MessageTooLargeError(envelope.messageId, size, this.maxBytes);
      return { key: envelope.aggregateId, raw, lane: this.keys.laneOf(envelope.metadata.priority) };
    });
    await this.append(topic, entries);
    this.published?.inc({ topic }, entries.length);
  }

  /** Appends raw bytes as a misbehaving producer would (tests of poison handling, tools). */
  async publishRaw(
    topic: string,
    key: string,
    raw: string,
    priority: Priority = 'normal',
  ): Promise<void> {
    if (this.closed) throw new TransportClosedError('RedisStreamsPublisher');
    checkTopic('RedisStreamsPublisher.publishRaw', topic);
    await this.append(topic, [{ key, raw, lane: this.keys.laneOf(priority) }]);
  }

  /** Publishing after close rejects. The client belongs to its owner and stays open. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private async append(
    topic: string,
    entries: readonly { key: string; raw: string; lane: Priority }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const maxLen = this.maxLenOf(topic);
    const xaddArgs = ({ key, raw, lane }: (typeof entries)[0]): XaddArgs => [
      this.keys.stream(topic, lane, this.keys.partitionOf(key)),
      'MAXLEN',
      '~',
      maxLen,
      '*',
      ENTRY_KEY_FIELD,
      key,
      ENTRY_MESSAGE_FIELD,
      raw,
    ];
    // One entry: a single command is atomic already; MULTI/EXEC would triple the commands.
    if (entries.length === 1) {
      await this.singles.add(xaddArgs(entries[0]!));
      return;
    }
    // Singles queued by earlier calls go out first: the batch is written at once, and a key's
    // messages must reach the stream in call order (Publisher contract).
    this.singles.flush();
    const transaction = this.options.client.multi();
    for (const entry of entries) void transaction.xadd(...xaddArgs(entry));
    const results = await transaction.exec();
    if (!results) throw new Error(`XADD transaction to ${topic} was aborted`);
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }
}

type XaddArgs = [string, 'MAXLEN', '~', number, '*', string, string, string, string];

interface QueuedXadd {
  readonly args: XaddArgs;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Single-message publishes called in the same synchronous stretch (a burst, or many callers
 * publishing concurrently) go out as one pipeline — one socket write instead of one per XADD,
 * which on a busy host is most of a small publish's cost. Each call still resolves or rejects
 * with its own XADD's reply; order on the connection is call order: a batch (MULTI/EXEC, written
 * at once) flushes the queue first. A lone publish waits one microtask longer.
 */
class SingleXadds {
  private queue: QueuedXadd[] = [];
  /**
   * A lone XADD is a plain command, unless the client auto-pipelines (ioredis'
   * `enableAutoPipelining`): that would defer it to the next tick, behind a MULTI written now.
   */
  private readonly plainLone: boolean;

  constructor(private readonly client: Redis) {
    this.plainLone = client.options?.enableAutoPipelining !== true;
  }

  add(args: XaddArgs): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.queue.push({ args, resolve, reject }) === 1) queueMicrotask(() => this.flush());
    });
  }

  /**
   * Writes what is queued, now (a microtask, or a batch that must go after it). Whatever the
   * client throws reaches the callers, not the process.
   */
  flush(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    try {
      this.send(queue);
    } catch (error) {
      for (const { reject } of queue) reject(error);
    }
  }

  private send(queue: readonly QueuedXadd[]): void {
    if (queue.length === 1 && this.plainLone) {
      const { args, resolve, reject } = queue[0]!;
      this.client.xadd(...args).then(() => resolve(), reject);
      return;
    }
    const pipeline = this.client.pipeline();
    for (const { args } of queue) pipeline.xadd(...args);
    pipeline.exec().then(
      (results) => {
        queue.forEach(({ resolve, reject }, i) => {
          const result = results?.[i];
          if (!result) reject(new Error('XADD got no reply'));
          else if (result[0]) reject(result[0]);
          else resolve();
        });
      },
      (error: unknown) => {
        for (const { reject } of queue) reject(error);
      },
    );
  }
}

function publishedCounter(registry: Registry): Counter<'topic'> {
  return registeredCounter(registry, {
    name: 'causeway_transport_published_total',
    help: 'Messages accepted by the broker',
    labelNames: ['topic'],
  });
}

/**
 * A positive safe integer, as checkCounts takes the in-memory broker's maxLenPerTopic: Redis
 * answers an XADD whose MAXLEN is beyond its 64-bit integers, or written with an exponent
 * (`Number.MAX_VALUE` for "no limit"), `ERR value is not an integer or out of range` — every
 * publish failed, where the in-memory broker refused the value when built.
 */
function isLength(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
