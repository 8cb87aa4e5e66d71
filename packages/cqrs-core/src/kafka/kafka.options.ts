import { DEFAULT_MAX_WIRE_BYTES } from '../messages/json.serializer';
import { type MessageSerializer } from '../messages/serializer.port';
import { type PoisonMessage, type TransportFeatures } from '../transport/transport.port';

/** What the Kafka transport guarantees (the conformance suite branches on it). */
export const KAFKA_FEATURES: TransportFeatures = {
  persistent: true,
  // Kafka has no priority lanes; a lane would be a topic of its own.
  priorities: false,
  redeliversFromDeadConsumers: true,
};

/** How topics are created when the transport first meets them. */
export interface KafkaTopicOptions {
  /**
   * Partitions of a topic the transport creates. The unit of parallelism of a consumer group:
   * messages of one aggregate share a partition and are handled one after another.
   * Hazard: changing it for an existing topic is not done here (Kafka can only add partitions,
   * and adding moves keys to other partitions, breaking per-aggregate order across the change).
   * Default 6.
   */
  partitions?: number;
  /** Replicas per partition. Default 1 (a single broker); use 3 on a real cluster. */
  replicationFactor?: number;
  /**
   * `min.insync.replicas` of topics the transport creates: how many replicas must have a message
   * before the broker acknowledges it to the publisher (acks = all). With the broker default (1)
   * a leader whose followers fell behind acknowledges alone, and losing it loses acknowledged
   * messages. Default: min(2, replicationFactor) when replicationFactor > 1, else unset (the
   * broker's). Trade-off: with fewer in-sync replicas than this, publishing fails
   * (NOT_ENOUGH_REPLICAS) instead of risking loss. Also keep the broker's
   * `unclean.leader.election.enable` false (Kafka's default). Topics that already exist keep
   * their settings. At most `replicationFactor`, refused when the publisher or subscriber is
   * built: Kafka creates such a topic, and then an older broker refuses every write to it, a
   * recent one (3.9) acknowledges writes on fewer replicas than this.
   */
  minInSyncReplicas?: number;
  /**
   * Longest a record of a topic the transport creates is kept, in milliseconds: for topics
   * whose messages carry data with a lifetime (an order's user and items, S3-7), which Kafka
   * otherwise keeps for its default 7 days. Kafka deletes whole segments once their newest
   * record is older than `retention.ms`, so this sets `segment.ms` to an eighth of it and
   * `retention.ms` to the rest: a record goes at most `retentionMs` after it was written (plus
   * the broker's `log.retention.check.interval.ms`, 5 min by default). A record not consumed by
   * then is gone too. A positive integer, at least 8. Default unset (the broker's retention).
   * Topics that already exist keep their settings: change them with kafka-configs.sh.
   */
  retentionMs?: number;
}

/** Options shared by the Kafka publisher and subscriber. */
export interface KafkaTransportOptions extends KafkaTopicOptions {
  serializer: MessageSerializer;
  /**
   * Largest wire message (the encoded envelope) accepted, in bytes. Bigger ones are refused
   * before anything is sent (MessageTooLargeError). Topics the transport creates get
   * `max.message.bytes` with room for this plus Kafka's record overhead, so a broker's default
   * limit (~1 MB) does not apply to them. Topics created elsewhere keep their own limit; the
   * publisher reads it (`max.message.bytes`) and refuses what it would not take, naming the
   * topic (KafkaMessageTooLargeError, a MessageTooLargeError). Default DEFAULT_MAX_WIRE_BYTES
   * (1.5 MiB + 64 KiB): above the serializers' default limit, so any event a store accepted can
   * be published.
   */
  maxMessageBytes?: number;
}

/** Consumer tuning; defaults suit production, tests shorten them. */
export interface KafkaSubscriberOptions extends KafkaTransportOptions {
  /** Delay before a failed (nacked) delivery is handed to the handler again. Default 1000 ms. */
  redeliveryDelayMs?: number;
  /**
   * Receives messages that cannot be decoded; their offset is then committed and they are never
   * delivered again. If it throws, the message is retried like a failed delivery. Default:
   * warnOfPoison (a process warning; the message is dropped): pass poisonToDeadLetters(queue).
   */
  onPoison?: (poison: PoisonMessage) => void | Promise<void>;
  /**
   * Receives errors the subscriber recovers from by itself: seeding a new Kafka group's offsets
   * from its legacy predecessors (see seedFromPredecessors) failed or took longer than 30 s — the
   * subscription then starts without it (per `startFrom`); every crash of a consumer
   * (KafkaConsumerCrashError, naming group, topics and cause) — it is restarted with backoff.
   * Default: process.emitWarning — once per distinct crash cause in a row, and once more when
   * the consumer turns unhealthy (`unhealthyAfterCrashes`), with the count.
   */
  onError?: (error: Error) => void;
  /**
   * Crashes in a row without progress (no batch handled, no empty fetch) after which a
   * subscription counts as stuck: KafkaSubscriber.probe() fails, naming its group, topics and
   * the last error, until it makes progress again. Default 5 (about 8 s of restarts).
   */
  unhealthyAfterCrashes?: number;
  /**
   * Prefix of the Kafka consumer group id (see kafkaGroupId); deliveries still report the group
   * as subscribed. Lets deployments or test runs share a cluster without sharing groups.
   * Hazard: changing it makes every group start afresh (per `startFrom`). Default ''.
   */
  groupIdPrefix?: string;
  /**
   * The broker declares a consumer dead after this long without a heartbeat and hands its
   * partitions to the others. Bounded below by the broker's group.min.session.timeout.ms
   * (6 s by default). Default 30 000 ms.
   */
  sessionTimeoutMs?: number;
  /**
   * Heartbeat period, also while a handler runs. Default 3000 ms, a tenth of the default session;
   * keep it below a third of `sessionTimeoutMs`. One not below `sessionTimeoutMs` (either one's
   * default counts) is refused when the subscriber is built.
   */
  heartbeatIntervalMs?: number;
  /**
   * How long members get to finish their in-flight deliveries and rejoin when the group
   * rebalances; a member still busy after it is dropped from the group. Default 60 000 ms.
   */
  rebalanceTimeoutMs?: number;
  /**
   * Longest close() waits for deliveries in flight. After it, the ones still running are
   * abandoned unacknowledged, as by kill() — their messages stay uncommitted and the group's
   * next owner of the partition gets them again (at-least-once; the attempt count goes on).
   * Messages handled before are committed first. JavaScript cannot stop a handler: an
   * abandoned one runs on, and its result is ignored. close() resolves at most
   * `CLOSE_GRACE_MS` (1 s) after it, even when the broker holds the member's requests (a
   * rebalance under way holds a join for up to `rebalanceTimeoutMs`): the member then finishes
   * leaving in the background, delivering nothing more. Keep it below the platform's shutdown
   * grace period (Kubernetes: 30 s by default) minus that second. Default 25 000 ms.
   */
  closeTimeoutMs?: number;
  /**
   * Longest a fetch waits on an idle topic. Also bounds how fast an idle consumer notices a
   * rebalance and how long close() may wait for the fetch in progress. Default 1000 ms.
   */
  maxWaitTimeMs?: number;
}

/**
 * How long close() still waits, once `closeTimeoutMs` is over and the deliveries in flight are
 * abandoned, for what was handled to be committed and the member to leave its group.
 */
export const CLOSE_GRACE_MS = 1_000;

export const KAFKA_DEFAULTS = {
  partitions: 6,
  replicationFactor: 1,
  maxMessageBytes: DEFAULT_MAX_WIRE_BYTES,
  redeliveryDelayMs: 1000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
  rebalanceTimeoutMs: 60_000,
  maxWaitTimeMs: 1000,
  closeTimeoutMs: 25_000,
  maxInFlight: 16,
  unhealthyAfterCrashes: 5,
} as const;

/**
 * Bytes Kafka adds around a message in a record batch (batch header, record lengths, the key,
 * timestamps): the topic limit is the message limit plus this, so a message at the limit fits.
 */
export const RECORD_OVERHEAD_BYTES = 64 * 1024;
