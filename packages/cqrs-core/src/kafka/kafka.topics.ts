import { shownValue } from '../config/shown-value';
import { type Admin, ConfigResourceTypes } from 'kafkajs';
import { InvalidTopicError } from '../transport/transport.errors';
import {
  KafkaTopicConfigError,
  type KafkaTopicOption,
  KafkaTopicUnavailableError,
} from './kafka.errors';
import {
  KAFKA_DEFAULTS,
  type KafkaTopicOptions,
  type KafkaTransportOptions,
  RECORD_OVERHEAD_BYTES,
} from './kafka.options';

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
 * The topic settings that are counts: each a positive integer, refused when the publisher or
 * subscriber is built (checkCounts), as the Redis Streams transport refuses its `partitions`.
 * Unchecked, `partitions: 0` (or NaN, sent as 0) was refused by the broker only at the first
 * publish or subscription, a fraction was cut to a whole number, and a `minInSyncReplicas` of 0
 * was told as a `maxMessageBytes` Kafka would not take (INVALID_CONFIG).
 */
export const KAFKA_TOPIC_COUNTS = ['partitions', 'replicationFactor', 'minInSyncReplicas'] as const;

/**
 * Checks `minInSyncReplicas` against `replicationFactor` (either one's default counts), once
 * both are positive integers (checkCounts). Kafka creates a topic whose `min.insync.replicas` is
 * above its replica count without a word. An older broker then refuses every write to it with
 * acks = all (NOT_ENOUGH_REPLICAS) for as long as the topic lives; a recent one (3.9: measured)
 * holds the setting to the replica count, so a publish is acknowledged on fewer replicas than the
 * deployment asked for. Either way the mistake showed only after the topics were created.
 * @param owner what the message names first, e.g. `KafkaPublisher`
 * @throws TypeError naming both options and their values
 */
export function checkInSyncReplicas(
  owner: string,
  options: Pick<KafkaTopicOptions, 'replicationFactor' | 'minInSyncReplicas'>,
): void {
  const { minInSyncReplicas } = options;
  const replicationFactor = options.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor;
  if (minInSyncReplicas === undefined || minInSyncReplicas <= replicationFactor) return;
  const shownFactor =
    options.replicationFactor === undefined
      ? `${replicationFactor}, the default`
      : String(replicationFactor);
  throw new TypeError(
    `${owner}: options.minInSyncReplicas (${minInSyncReplicas}) must not be above ` +
      `options.replicationFactor (${shownFactor}): a topic never has more replicas in sync than ` +
      'it has (Kafka creates it all the same; an older broker then refuses every publish with ' +
      'NOT_ENOUGH_REPLICAS, a recent one acknowledges on fewer replicas than asked)',
  );
}

/** Kafka's answers to CreateTopics that retrying cannot change, and the option that decides each. */
const PERMANENT: Record<string, { option?: KafkaTopicOption; advice: string }> = {
  INVALID_REPLICATION_FACTOR: {
    option: 'replicationFactor',
    advice: 'the cluster has fewer brokers: lower the `replicationFactor` option',
  },
  INVALID_REPLICA_ASSIGNMENT: {
    option: 'replicationFactor',
    advice: 'check the `replicationFactor` option against the brokers of the cluster',
  },
  INVALID_PARTITIONS: { option: 'partitions', advice: 'change the `partitions` option' },
  INVALID_CONFIG: {
    option: 'maxMessageBytes',
    advice:
      "change the `maxMessageBytes` option (it sets the topic's max.message.bytes), or `minInSyncReplicas`",
  },
  POLICY_VIOLATION: {
    advice:
      "the broker's create-topic policy refuses the `partitions`, `replicationFactor` or `maxMessageBytes` option",
  },
  INVALID_TOPIC_EXCEPTION: { advice: 'Kafka refuses the topic name' },
  TOPIC_AUTHORIZATION_FAILED: {
    advice: 'grant the client CREATE on the topic, or create the topic beforehand',
  },
  CLUSTER_AUTHORIZATION_FAILED: {
    advice: 'grant the client CREATE on the cluster, or create the topic beforehand',
  },
};

interface KafkaJsErrorLike {
  readonly type?: string;
  readonly message?: string;
  readonly topic?: string;
  /** KafkaJSAggregateError (CreateTopics): one error per topic. */
  readonly errors?: readonly KafkaJsErrorLike[];
}

/**
 * The error for a failed topic creation, with kafkajs's per-topic details (`<CODE> (<message>)`,
 * which its "Topic creation errors" message leaves out): a KafkaTopicConfigError naming the
 * option to change when Kafka's answer cannot heal by retrying (PERMANENT), else a
 * KafkaTopicUnavailableError (the caller may retry).
 */
export function topicCreationError(
  topic: string,
  error: unknown,
  options: Pick<KafkaTransportOptions, 'partitions' | 'replicationFactor' | 'maxMessageBytes'> = {},
): Error {
  if (error instanceof KafkaTopicUnavailableError) return error;
  const cause = (error ?? {}) as KafkaJsErrorLike;
  const parts = Array.isArray(cause.errors) && cause.errors.length > 0 ? cause.errors : [cause];
  const detail = parts
    .map((part) => {
      const what = part.type
        ? `${part.type} (${part.message ?? ''})`
        : (part.message ?? String(part));
      return part.topic && part.topic !== topic ? `${part.topic}: ${what}` : what;
    })
    .join('; ');
  const permanent = parts.find((part) => part.type !== undefined && part.type in PERMANENT);
  if (!permanent?.type) return new KafkaTopicUnavailableError(topic, detail || String(error));
  const { option, advice } = PERMANENT[permanent.type]!;
  const current = option && { ...KAFKA_DEFAULTS, ...definedOnly(options) }[option];
  return new KafkaTopicConfigError(
    topic,
    permanent.type,
    detail,
    option,
    current === undefined ? advice : `${advice} (now ${current})`,
  );
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}

/**
 * The config entries of a topic the transport creates: `max.message.bytes` with room for
 * `maxMessageBytes` plus Kafka's record overhead; `compression.type=producer` (batches stored
 * as producers wrote them, whatever the broker's default); `min.insync.replicas` per
 * `minInSyncReplicas` (default min(2, replicationFactor) when replicationFactor > 1).
 */
export function kafkaTopicConfig(
  options: Pick<
    KafkaTransportOptions,
    'replicationFactor' | 'maxMessageBytes' | 'minInSyncReplicas' | 'retentionMs'
  > = {},
): { name: string; value: string }[] {
  const maxMessageBytes = options.maxMessageBytes ?? KAFKA_DEFAULTS.maxMessageBytes;
  const replicationFactor = options.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor;
  const minInSync =
    options.minInSyncReplicas ??
    (replicationFactor > 1 ? Math.min(2, replicationFactor) : undefined);
  return [
    { name: 'max.message.bytes', value: String(maxMessageBytes + RECORD_OVERHEAD_BYTES) },
    { name: 'compression.type', value: 'producer' },
    ...(minInSync === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInSync) }]),
    ...retentionConfig(options.retentionMs),
  ];
}

/**
 * `retention.ms` and `segment.ms` so that no record outlives `retentionMs`: a segment is
 * deleted when its newest record is older than `retention.ms`, and holds records written over
 * at most `segment.ms`, so its oldest goes after at most their sum.
 */
function retentionConfig(retentionMs: number | undefined): { name: string; value: string }[] {
  if (retentionMs === undefined) return [];
  const segmentMs = Math.floor(retentionMs / 8);
  return [
    { name: 'retention.ms', value: String(retentionMs - segmentMs) },
    { name: 'segment.ms', value: String(segmentMs) },
  ];
}

/** @throws RangeError naming `retentionMs` when it is given and not an integer of at least 8 */
export function checkRetentionMs(retentionMs: unknown): void {
  if (retentionMs === undefined) return;
  if (typeof retentionMs !== 'number' || !Number.isSafeInteger(retentionMs) || retentionMs < 8)
    throw new RangeError(
      `retentionMs must be an integer of at least 8 (milliseconds), got ${shownValue(retentionMs)}`,
    );
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
  private readonly limits = new Map<string, number>();

  constructor(
    private readonly admin: Admin,
    private readonly options: Pick<
      KafkaTransportOptions,
      'partitions' | 'replicationFactor' | 'maxMessageBytes' | 'minInSyncReplicas' | 'retentionMs'
    > = {},
  ) {
    checkRetentionMs(options.retentionMs);
  }

  /**
   * Resolves once every topic exists and each of its partitions has a leader.
   * @throws InvalidTopicError before contacting the broker when a name is not a legal Kafka topic
   * @throws KafkaTopicConfigError (`permanent`) when Kafka refuses the topic's settings or rights
   * @throws KafkaTopicUnavailableError otherwise (with Kafka's per-topic errors): retry later
   */
  async ensure(topics: readonly string[]): Promise<void> {
    topics.forEach(checkKafkaTopic);
    await Promise.all(topics.map((topic) => this.ensureOne(topic)));
  }

  /**
   * The topic's `max.message.bytes` (the largest record batch the broker appends), once ensure()
   * resolved for it: what the transport set on topics it created, else read from the broker.
   * Undefined when the broker would not describe it (the broker's refusal then decides).
   */
  maxBatchBytes(topic: string): number | undefined {
    return this.limits.get(topic);
  }

  /**
   * Forgets that the topic was made ready: the broker no longer has it (deleted, or its data
   * lost), so the next ensure() creates it again.
   */
  forget(topic: string): void {
    this.ready.delete(topic);
    this.limits.delete(topic);
  }

  /** Reads the topic's `max.message.bytes` again (the broker refused a send as too large). */
  async refreshLimit(topic: string): Promise<void> {
    await this.readLimit(topic);
  }

  private ensureOne(topic: string): Promise<void> {
    let ready = this.ready.get(topic);
    if (!ready) {
      ready = this.create(topic).catch((error: unknown) => {
        this.ready.delete(topic);
        throw topicCreationError(topic, error, this.options);
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
          configEntries: kafkaTopicConfig(this.options),
        },
      ],
    });
    if (created) {
      this.limits.set(topic, maxMessageBytes + RECORD_OVERHEAD_BYTES);
      return;
    }
    // Someone else created it: its creator may still be waiting for the leaders.
    await this.waitForLeaders(topic);
    await this.readLimit(topic);
  }

  private async readLimit(topic: string): Promise<void> {
    try {
      const { resources } = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] },
        ],
      });
      const value = resources[0]?.configEntries.find(
        (entry) => entry.configName === 'max.message.bytes',
      )?.configValue;
      if (value !== undefined && Number(value) > 0) this.limits.set(topic, Number(value));
    } catch {
      // No DescribeConfigs right or a broker hiccup: the broker's own refusal still names it.
    }
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
