import { type IHeaders, type Message, Partitioners, type Producer } from 'kafkajs';
import { type Envelope } from '../messages/envelope';
import { MessageTooLargeError } from '../messages/message.errors';
import { type Publisher } from '../transport/transport.port';
import { encodeForWire } from '../transport/wire.codec';
import { type KafkaClient } from './kafka.connection';
import { KafkaTransportClosedError } from './kafka.errors';
import { KAFKA_DEFAULTS, type KafkaTransportOptions } from './kafka.options';
import { KafkaTopics } from './kafka.topics';

/** Headers every message carries, so tools can route and inspect without decoding. */
export const KAFKA_HEADERS = { type: 'causeway-type', messageId: 'causeway-id' } as const;

/** Bytes a record costs besides key, value and headers (lengths, offsets, timestamps). */
const PER_RECORD_BYTES = 64;

interface Encoded {
  readonly message: Message;
  readonly bytes: number;
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
 * - Sends are serialised within a publisher: kafkajs's idempotent producer numbers records per
 *   partition when it builds a request, and two concurrent sends to one partition would be
 *   rejected as out of sequence. Callers may still publish concurrently.
 * - Topics are created (partitions, size limit) before the first send to them.
 */
export class KafkaPublisher implements Publisher {
  private readonly producer: Producer;
  private readonly topics: KafkaTopics;
  private readonly maxMessageBytes: number;
  private connected: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    client: KafkaClient,
    private readonly options: KafkaTransportOptions,
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? KAFKA_DEFAULTS.maxMessageBytes;
    this.topics = new KafkaTopics(client.admin, options);
    this.producer = client.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
  }

  async publish(topic: string, messages: readonly Envelope[]): Promise<void> {
    if (this.closed) throw new KafkaTransportClosedError('publisher');
    // Encode and measure everything first: an oversized message refuses the whole batch.
    const encoded = messages.map((envelope) => this.encode(envelope));
    if (encoded.length === 0) return;
    await this.send(topic, encoded);
  }

  /**
   * Appends bytes as they are, keyed like an envelope of aggregate `key`: replays of dead
   * letters, and tests of poison handling (a consumer hands undecodable bytes to `onPoison`).
   */
  async publishRaw(topic: string, key: string, raw: string): Promise<void> {
    if (this.closed) throw new KafkaTransportClosedError('publisher');
    const bytes = Buffer.byteLength(raw) + Buffer.byteLength(key) + PER_RECORD_BYTES;
    await this.send(topic, [{ message: { key, value: raw }, bytes }]);
  }

  /** Waits for sends in progress, then disconnects the producer. Publishing afterwards rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.connected) await this.producer.disconnect();
  }

  private encode(envelope: Envelope): Encoded {
    const value = encodeForWire(this.options.serializer, envelope);
    const size = Buffer.byteLength(value);
    if (size > this.maxMessageBytes)
      throw new MessageTooLargeError(envelope.messageId, size, this.maxMessageBytes);
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
    return { message: { key: envelope.aggregateId, value, headers }, bytes };
  }

  private send(topic: string, encoded: readonly Encoded[]): Promise<void> {
    const run = async () => {
      await this.connect();
      await this.topics.ensure([topic]);
      for (const chunk of this.chunks(encoded)) {
        await this.producer.send({ topic, acks: -1, messages: chunk });
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Consecutive runs of messages whose total size stays within one message's limit. */
  private *chunks(encoded: readonly Encoded[]): Generator<Message[]> {
    let chunk: Message[] = [];
    let bytes = 0;
    for (const item of encoded) {
      if (chunk.length > 0 && bytes + item.bytes > this.maxMessageBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(item.message);
      bytes += item.bytes;
    }
    if (chunk.length > 0) yield chunk;
  }

  private connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    return this.connected;
  }
}
