import { type IHeaders, type Message, Partitioners, type Producer } from 'kafkajs';
import { type Envelope } from '../messages/envelope';
import { type Publisher } from '../transport/transport.port';
import { checkCounts } from '../transport/count-options.check';
import { checkOptionsObject, checkSerializerOption } from '../transport/transport-options.check';
import { encodeForWire } from '../transport/wire.codec';
import { checkKafkaClient, type KafkaClient } from './kafka.connection';
import {
  KafkaMessageTooLargeError,
  KafkaPublishError,
  KafkaTransportClosedError,
} from './kafka.errors';
import { KAFKA_DEFAULTS, type KafkaTransportOptions } from './kafka.options';
import {
  checkInSyncReplicas,
  checkKafkaTopic,
  KAFKA_TOPIC_COUNTS,
  KafkaTopics,
} from './kafka.topics';
import { checkOrderKey } from '../transport/order-key.check';
import { checkTopic } from '../transport/topic.check';
import { errorCauses, hasErrorType } from './kafka.error-causes';

/** The broker does not host the topic: deleted since it was created, or its data lost. */
function isTopicGone(error: unknown): boolean {
  return hasErrorType(error, 'UNKNOWN_TOPIC_OR_PARTITION');
}

/** The brokers kafkajs's connection errors along `error`'s causes name (`broker`: host:port). */
function brokersOf(error: unknown): string[] {
  const brokers = new Set<string>();
  for (const cause of errorCauses(error)) {
    const { broker } = cause as { broker?: unknown };
    if (typeof broker === 'string') brokers.add(broker);
  }
  return [...brokers];
}

/** Headers every message carries, so tools can route and inspect without decoding. */
export const KAFKA_HEADERS = { type: 'causeway-type', messageId: 'causeway-id' } as const;

/** Bytes a record costs besides key, value and headers (lengths, offsets, timestamps). */
const PER_RECORD_BYTES = 64;
/** A record batch's header (61 bytes in format v2), with room to spare. */
const BATCH_HEADER_BYTES = 128;
/** kafkajs error types of a broker refusing a batch for its size. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

interface Encoded {
  readonly message: Message;
  /** The record's size in a batch, estimated from above. */
  readonly bytes: number;
  /** The message id (or a label of a raw payload), for errors. */
  readonly id: string;
}

/**
 * Publishes envelopes to Kafka topics (kafkajs producer).
 *
 * - Key = aggregateId: the default (Java-compatible murmur2) partitioner puts every message of an
 *   aggregate in one partition, so per-aggregate order holds for consumers — and for Java clients.
 * - acks = all and an idempotent producer: a publish resolves once every in-sync replica has the
 *   messages, and kafkajs's internal retries cannot duplicate or reorder them.
 * - A batch is one `producer.send`, i.e. one produce request, unless it is larger than
 *   `maxMessageBytes` in total; then it goes in consecutive sends of at most that size (a
 *   partition's share of a request is one record batch, which the topic limit also bounds).
 *   Not atomic: if a send fails, earlier chunks (or other partitions) may already be written —
 *   the caller publishes the whole batch again and consumers deduplicate by messageId.
 * - A producer that cannot connect rejects with KafkaPublishError naming the topic, the
 *   messages and the brokers (nothing was sent).
 * - A send that fails for any reason but its size may have been written (its answer lost): the
 *   producer is replaced before the next send, whose records would otherwise reuse the written
 *   ones' sequence numbers (see renew). It rejects with KafkaPublishError, naming the topic and
 *   the messages, kafkajs's error as its cause.
 * - A topic deleted since it was created here, or since the producer met it (the broker answers
 *   UNKNOWN_TOPIC_OR_PARTITION, after kafkajs's retries), is created again and the whole batch
 *   sent once more, on a new producer: the publish resolves as if nothing had happened. A
 *   second refusal rejects with KafkaPublishError. The topic of the send itself is created
 *   again as soon as the broker's first refusal is seen (watchSend), so kafkajs's own next
 *   attempt writes the batch instead of its retries running out first.
 * - Sends are serialised within a publisher: kafkajs's idempotent producer numbers records per
 *   partition when it builds a request, and two concurrent sends to one partition would be
 *   rejected as out of sequence. Callers may still publish concurrently.
 * - Topics are created (partitions, size limit) before the first send to them. A topic that is
 *   no non-empty string (checkTopic), or not a legal Kafka name (checkKafkaTopic), is refused
 *   with InvalidTopicError before anything is sent or connected — an empty batch too.
 * - Sizes: a message over `maxMessageBytes`, or over what an existing topic's own
 *   `max.message.bytes` leaves, is refused before sending (KafkaMessageTooLargeError, naming the
 *   topic); so is the broker's MESSAGE_TOO_LARGE answer (a limit lowered after the check).
 */
export class KafkaPublisher implements Publisher {
  /** Replaced after a send that may have been written (see renew). */
  private producer: Producer;
  private readonly topics: KafkaTopics;
  private readonly maxMessageBytes: number;
  private connected: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Sends that failed after this publisher had created their deleted topic again (watchSend). */
  private readonly recreatedDuring = new WeakSet<object>();

  /**
   * @throws TypeError when `client` is no Kafka client (kafkaConnection(...).client), when
   *   `options` is no object or has no MessageSerializer as `serializer`, or naming
   *   `maxMessageBytes`, `partitions`, `replicationFactor` or `minInSyncReplicas` when it is no
   *   positive integer (checkCounts)
   * @throws TypeError naming both when `minInSyncReplicas` is above `replicationFactor` (either
   *   one's default counts): no topic has more replicas in sync than it has (checkInSyncReplicas)
   */
  constructor(
    private readonly client: KafkaClient,
    private readonly options: KafkaTransportOptions,
  ) {
    checkKafkaClient('KafkaPublisher', client);
    checkOptionsObject('KafkaPublisher', options, ' with a serializer ({ serializer })');
    checkSerializerOption('KafkaPublisher', options.serializer);
    checkCounts('KafkaPublisher', options as unknown as Record<string, unknown>, [
      'maxMessageBytes',
      ...KAFKA_TOPIC_COUNTS,
    ]);
    checkInSyncReplicas('KafkaPublisher', options);
    this.maxMessageBytes = options.maxMessageBytes ?? KAFKA_DEFAULTS.maxMessageBytes;
    this.topics = new KafkaTopics(client.admin, options);
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    return this.client.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
  }

  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    if (this.closed) throw new KafkaTransportClosedError('publisher');
    checkPublishedTopic('KafkaPublisher.publish', topic);
    // Encode and measure everything first: an oversized message refuses the whole batch.
    const encoded = messages.map((envelope) => this.encode(topic, envelope));
    if (encoded.length === 0) return;
    await this.send(topic, encoded);
  }

  /**
   * Appends bytes as they are, keyed like an envelope of aggregate `key`: replays of dead
   * letters, and tests of poison handling (a consumer hands undecodable bytes to `onPoison`).
   */
  async publishRaw(topic: string, key: string, raw: string): Promise<void> {
    if (this.closed) throw new KafkaTransportClosedError('publisher');
    checkPublishedTopic('KafkaPublisher.publishRaw', topic);
    const size = Buffer.byteLength(raw);
    const id = `(raw payload, key ${JSON.stringify(key)})`;
    if (size > this.maxMessageBytes)
      throw new KafkaMessageTooLargeError(topic, id, size, this.maxMessageBytes, 'maxMessageBytes');
    const bytes = size + Buffer.byteLength(key) + PER_RECORD_BYTES;
    await this.send(topic, [{ message: { key, value: raw }, bytes, id }]);
  }

  /** Waits for sends in progress, then disconnects the producer. Publishing afterwards rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.connected) await this.producer.disconnect();
  }

  private encode(topic: string, envelope: Envelope): Encoded {
    checkOrderKey('KafkaPublisher.publish', topic, envelope);
    const value = encodeForWire(this.options.serializer, envelope);
    const size = Buffer.byteLength(value);
    if (size > this.maxMessageBytes)
      throw new KafkaMessageTooLargeError(
        topic,
        envelope.messageId,
        size,
        this.maxMessageBytes,
        'maxMessageBytes',
      );
    const headers: IHeaders = {
      [KAFKA_HEADERS.type]: envelope.type,
      [KAFKA_HEADERS.messageId]: envelope.messageId,
    };
    const bytes =
      size +
      Buffer.byteLength(envelope.aggregateId) +
      Buffer.byteLength(envelope.type) +
      Buffer.byteLength(envelope.messageId) +
      PER_RECORD_BYTES;
    return {
      message: { key: envelope.aggregateId, value, headers },
      bytes,
      id: envelope.messageId,
    };
  }

  private send(topic: string, encoded: readonly Encoded[]): Promise<void> {
    const run = async () => {
      try {
        await this.sendOnce(topic, encoded);
      } catch (error) {
        // The topic was deleted since this publisher created it (by an operator, or the broker
        // lost its data), or since its producer met it (kafkajs names every topic it met in its
        // metadata refreshes: a send to any topic then fails once). sendOnce renewed the
        // producer and forgot the topic: once more creates it again, as at the first publish,
        // and writes the whole batch (chunks written before went with the deleted topic). Only
        // once: a second refusal is the caller's (session 48: the first publish after a
        // deletion failed, the next one worked).
        const gone =
          error instanceof KafkaPublishError &&
          (isTopicGone(error.cause) || this.recreatedDuring.has(error));
        if (!gone) throw error;
        await this.sendOnce(topic, encoded);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async sendOnce(topic: string, encoded: readonly Encoded[]): Promise<void> {
    await this.connect().catch((error: unknown) => {
      // kafkajs says "Connection error: connect ECONNREFUSED …" or "Connection timeout":
      // name the topic, the messages and where it tried.
      throw new KafkaPublishError(
        topic,
        encoded.map((item) => item.id),
        error,
        this.client.brokers ?? brokersOf(error),
      );
    });
    await this.topics.ensure([topic]);
    const limit = this.batchLimit(topic);
    const tooLarge = encoded.find((item) => item.bytes > limit);
    if (tooLarge) throw this.tooLarge(topic, [tooLarge], limit, "the topic's max.message.bytes");
    for (const chunk of this.chunks(encoded, limit)) {
      const watch = this.watchSend(topic);
      try {
        await this.producer.send({
          topic,
          acks: -1,
          messages: chunk.map((item) => item.message),
        });
      } catch (error) {
        const type = (error as { type?: string }).type ?? '';
        if (!TOO_LARGE.has(type)) {
          const recreated = await watch.recreated();
          await this.renew();
          // Remembered as created, a deleted topic failed every publish for good (session 46).
          // Created again by the watch, it is there: the send once more goes to it.
          if (isTopicGone(error) && !recreated) this.topics.forget(topic);
          const failure = new KafkaPublishError(
            topic,
            chunk.map((item) => item.id),
            error,
          );
          if (recreated) this.recreatedDuring.add(failure);
          throw failure;
        }
        await this.topics.refreshLimit(topic); // an operator lowered it: check against it next time
        throw this.tooLarge(topic, chunk, this.batchLimit(topic), `the broker answered ${type}`);
      } finally {
        watch.stop();
      }
    }
  }

  /**
   * Watches one producer.send to `topic` for a topic deleted since it was created here. kafkajs
   * retries a send the broker refused with UNKNOWN_TOPIC_OR_PARTITION (5 times with
   * `kafkaConnection`'s defaults: ~3 s) before it rejects, and only then did the publisher create
   * the topic again (session 48). kafkajs refreshes its metadata after a refused produce request
   * only, so a Metadata request answered after a Produce request of this send says the first
   * attempt was refused: the topic list is read then (once per send) and a topic no longer
   * listed is created again at once. kafkajs's next attempt then writes the batch to it — the
   * same producer, whose records a partition new to it takes at any sequence — and the send
   * resolves. Other refusals (a leader moved) cost that one listTopics.
   */
  private watchSend(topic: string): { recreated(): Promise<boolean>; stop(): void } {
    let produced = false;
    let check: Promise<boolean> | undefined;
    const stop = this.producer.on(this.producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') produced = true;
      else if (payload.apiName === 'Metadata' && produced) check ??= this.recreateIfGone(topic);
    });
    return { recreated: async () => (await check) ?? false, stop };
  }

  /** Creates `topic` again if the broker no longer lists it; whether it did. Never rejects. */
  private async recreateIfGone(topic: string): Promise<boolean> {
    try {
      if ((await this.client.admin.listTopics()).includes(topic)) return false;
      this.topics.forget(topic);
      await this.topics.ensure([topic]);
      return true;
    } catch {
      return false; // the send's own outcome decides, as before
    }
  }

  /**
   * The most record bytes one send may carry to `topic`: `maxMessageBytes`, and what the topic's
   * `max.message.bytes` leaves after a batch header (a topic created elsewhere may take less).
   */
  private batchLimit(topic: string): number {
    const topicMax = this.topics.maxBatchBytes(topic);
    return topicMax === undefined
      ? this.maxMessageBytes
      : Math.min(this.maxMessageBytes, topicMax - BATCH_HEADER_BYTES);
  }

  private tooLarge(topic: string, items: readonly Encoded[], max: number, limit: string) {
    const bytes = items.reduce((sum, item) => sum + item.bytes, 0);
    const id = items.length === 1 ? items[0]!.id : `${items[0]!.id} (+${items.length - 1} more)`;
    return new KafkaMessageTooLargeError(topic, id, bytes, max, limit);
  }

  /** Consecutive runs of messages whose total size stays within `limit`. */
  private *chunks(encoded: readonly Encoded[], limit: number): Generator<Encoded[]> {
    let chunk: Encoded[] = [];
    let bytes = 0;
    for (const item of encoded) {
      if (chunk.length > 0 && bytes + item.bytes > limit) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(item);
      bytes += item.bytes;
    }
    if (chunk.length > 0) yield chunk;
  }

  /**
   * Replaces the producer after a send that failed without a refusal of its size: the broker may
   * have written it (a timeout, a connection closed while it restarted: its answer was lost).
   * kafkajs then hands the batch's sequence numbers out again, so the same producer's next batch
   * of as many records would be taken by the broker for a duplicate of the written one —
   * acknowledged, never written — and one of another size refused as out of sequence for as
   * long as the process lives (a review, session 35). A new producer gets a new producer id:
   * its sequences start afresh. (Sends are serialised: none is using the old one.)
   */
  private async renew(): Promise<void> {
    const old = this.producer;
    const wasConnected = this.connected !== undefined;
    this.producer = this.newProducer();
    this.connected = undefined;
    if (wasConnected) await old.disconnect().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }
}

/**
 * The topic of a publish, checked before anything is connected or sent: an empty one was taken
 * with an empty batch (the other transports refused it), and a name Kafka refuses was told only
 * once the producer had connected — as a KafkaPublishError when the broker was away.
 * @throws InvalidTopicError naming the topic
 */
function checkPublishedTopic(owner: string, topic: unknown): void {
  checkTopic(owner, topic);
  checkKafkaTopic(topic as string);
}
