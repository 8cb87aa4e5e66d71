import { type Admin } from 'kafkajs';
import { InvalidTopicError } from '../transport/transport.errors';
import { KafkaTopicUnavailableError } from './kafka.errors';
import { KAFKA_DEFAULTS, type KafkaTransportOptions, RECORD_OVERHEAD_BYTES } from './kafka.options';

/**
 * Kafka's rule for topic names (the broker refuses others): 1–249 characters of ASCII letters,
 * digits, '.', '_' and '-', and not '.' or '..'. Names come from message types and instance
 * ids (`replies.<instanceId>`), so a type or an instance id with ':' or '/' fails here, naming it.
 * @throws InvalidTopicError naming the topic and the rule
 */
export function checkKafkaTopic(topic: string): void {
  if (typeof topic !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
    throw new InvalidTopicError(
      String(topic),
      "Kafka topics have 1 to 249 characters, only ASCII letters, digits, '.', '_' and '-'",
    );
  }
  if (topic === '.' || topic === '..') throw new InvalidTopicError(topic, 'Kafka refuses it');
}

/**
 * Creates topics up front, before the first send to them or the first subscription: topics that
 * a broker auto-creates answer "does not host this topic-partition" for a while, and get the
 * broker's defaults (one partition, ~1 MB messages).
 *
 * Idempotent and safe to call concurrently: each topic is created once per instance (the promise
 * is cached; a failure is forgotten so the next call tries again). A topic that already exists
 * (created by another process, or with other settings by an operator) is used as it is, once its
 * partitions have leaders.
 */
export class KafkaTopics {
  private readonly ready = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: Admin,
    private readonly options: Pick<
      KafkaTransportOptions,
      'partitions' | 'replicationFactor' | 'maxMessageBytes'
    > = {},
  ) {}

  /**
   * Resolves once every topic exists and each of its partitions has a leader.
   * @throws InvalidTopicError before contacting the broker when a name is not a legal Kafka topic
   */
  async ensure(topics: readonly string[]): Promise<void> {
    topics.forEach(checkKafkaTopic);
    await Promise.all(topics.map((topic) => this.ensureOne(topic)));
  }

  private ensureOne(topic: string): Promise<void> {
    let ready = this.ready.get(topic);
    if (!ready) {
      ready = this.create(topic).catch((error: unknown) => {
        this.ready.delete(topic);
        throw error instanceof KafkaTopicUnavailableError
          ? error
          : new KafkaTopicUnavailableError(topic, (error as Error).message);
      });
      this.ready.set(topic, ready);
    }
    return ready;
  }

  private async create(topic: string): Promise<void> {
    const maxMessageBytes = this.options.maxMessageBytes ?? KAFKA_DEFAULTS.maxMessageBytes;
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: this.options.partitions ?? KAFKA_DEFAULTS.partitions,
          replicationFactor: this.options.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor,
          configEntries: [
            { name: 'max.message.bytes', value: String(maxMessageBytes + RECORD_OVERHEAD_BYTES) },
          ],
        },
      ],
    });
    // Someone else created it: its creator may still be waiting for the leaders.
    if (!created) await this.waitForLeaders(topic);
  }

  private async waitForLeaders(topic: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics } = await this.admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((partition) => partition.leader >= 0)) return;
      } catch {
        // LEADER_NOT_AVAILABLE and friends while the topic settles: look again.
      }
      if (Date.now() > deadline)
        throw new KafkaTopicUnavailableError(topic, `no partition leaders after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
