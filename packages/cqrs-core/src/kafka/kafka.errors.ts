import { MessageTooLargeError } from '../messages/message.errors';
import { TransportClosedError } from '../transport/transport.errors';

/**
 * A topic could not be created or did not get partition leaders in time, for a reason that may
 * heal (a broker restarting, a controller moving): the Router retries the subscription. Its
 * subclass KafkaTopicConfigError is `permanent`.
 */
export class KafkaTopicUnavailableError extends Error {
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super(`Kafka topic "${topic}" is not available: ${reason}`);
    this.name = 'KafkaTopicUnavailableError';
  }
}

/**
 * A publisher or subscriber was used after close() (or kill()). A TransportClosedError, as every
 * transport's (`component` is `KafkaPublisher` or `KafkaSubscriber`).
 */
export class KafkaTransportClosedError extends TransportClosedError {
  constructor(readonly what: 'publisher' | 'subscriber') {
    super(what === 'publisher' ? 'KafkaPublisher' : 'KafkaSubscriber');
    this.message = `The Kafka ${what} is closed`;
    this.name = 'KafkaTransportClosedError';
  }
}

/**
 * Seeding a new Kafka group from its predecessors (seedFromPredecessors) failed or timed out.
 * Reported to `onError`, never thrown: the subscription starts without it, per `startFrom`.
 */
export class KafkaGroupSeedError extends Error {
  constructor(
    readonly groupId: string,
    override readonly cause: unknown,
  ) {
    super(
      `Could not seed Kafka group "${groupId}" from its predecessors, it starts per startFrom: ${
        (cause as Error | undefined)?.message ?? String(cause)
      }`,
    );
    this.name = 'KafkaGroupSeedError';
  }
}

/** A transport option that decides how the transport creates topics. */
export type KafkaTopicOption = 'partitions' | 'replicationFactor' | 'maxMessageBytes';

/**
 * Kafka refused to create a topic for a reason that retrying cannot heal: a topic setting the
 * cluster cannot accept (INVALID_REPLICATION_FACTOR: more replicas than brokers;
 * INVALID_PARTITIONS; INVALID_CONFIG; POLICY_VIOLATION) or missing rights (TOPIC_ / CLUSTER_
 * AUTHORIZATION_FAILED). The message names Kafka's error and the option to change. `permanent`:
 * subscribing again does not help until the option (or the cluster) changes.
 *
 * It is no InvalidTopicError on purpose: the setting, not the message, is at fault, so the
 * outbox must not set events aside because of it. Hazard: on a cluster with a broker down, Kafka
 * also answers INVALID_REPLICATION_FACTOR while fewer brokers than `replicationFactor` are up.
 */
export class KafkaTopicConfigError extends KafkaTopicUnavailableError {
  readonly permanent = true;

  constructor(
    topic: string,
    /** Kafka's error code name, e.g. INVALID_REPLICATION_FACTOR. */
    readonly code: string,
    /** Kafka's errors, per topic: `<CODE> (<message>)`. */
    readonly detail: string,
    /** The option to change, when one decides it. */
    readonly option: KafkaTopicOption | undefined,
    /** What to do about it. */
    readonly advice: string,
  ) {
    super(topic, `${detail}; ${advice}`);
    this.message = `Kafka refused to create topic ${JSON.stringify(topic)}: ${detail}; ${advice}`;
    this.name = 'KafkaTopicConfigError';
  }
}

/**
 * The kafkajs consumer of a subscription crashed (a fetch, a join or a commit failed in a way
 * kafkajs does not retry in place). Reported to the subscriber's `onError` for every crash,
 * never thrown: the consumer is restarted (kafkajs or ConsumerSupervisor, with backoff). After
 * `unhealthyAfterCrashes` crashes in a row without progress, KafkaSubscriber.probe() fails.
 */
export class KafkaConsumerCrashError extends Error {
  constructor(
    readonly groupId: string,
    readonly topics: readonly string[],
    override readonly cause: unknown,
    /** Crashes in a row since the consumer last made progress (1 for the first). */
    readonly consecutive: number,
    /** Subscribed topics the broker no longer has (deleted since), when that is the cause. */
    readonly missingTopics: readonly string[] = [],
  ) {
    super(
      `Kafka consumer of group "${groupId}" (topics ${topics.join(', ')}) crashed${
        consecutive > 1 ? ` (${consecutive} times in a row without progress)` : ''
      }: ${missingTopicsText(missingTopics)}${(cause as Error | undefined)?.message ?? String(cause)}`,
    );
    this.name = 'KafkaConsumerCrashError';
  }
}

/**
 * A message (or a raw payload) is larger than a Kafka topic takes: over `maxMessageBytes`, over
 * the topic's own `max.message.bytes` (a topic created elsewhere, or read again after the broker
 * refused a send as MESSAGE_TOO_LARGE). A MessageTooLargeError: the outbox sets such events
 * aside, a command is refused. Nothing of the publish() call was sent when it is thrown before
 * sending; after a broker refusal, earlier chunks of the batch may have been written.
 */
export class KafkaMessageTooLargeError extends MessageTooLargeError {
  constructor(
    readonly topic: string,
    messageId: string,
    sizeBytes: number,
    maxBytes: number,
    /** Which limit: `maxMessageBytes`, the topic's `max.message.bytes`, or the broker's answer. */
    readonly limit: string,
  ) {
    super(messageId, sizeBytes, maxBytes);
    this.message = `Message ${messageId} is ${sizeBytes} bytes; Kafka topic ${JSON.stringify(topic)} takes at most ${maxBytes} (${limit})`;
    this.name = 'KafkaMessageTooLargeError';
  }
}

/**
 * Kafka did not acknowledge a send: a broker away or without a leader for the partition, a topic
 * deleted since it was created and refused again once created anew (the publisher creates it
 * and sends once more first), a timeout, or no broker answering the producer's connect (then
 * also naming the brokers). Names the topic
 * and the messages; `cause` is kafkajs's error, whose message ("This server does not host this
 * topic-partition") names neither. The messages may still have been written (an answer lost):
 * publish the batch again, consumers deduplicate by messageId.
 */
export class KafkaPublishError extends Error {
  constructor(
    readonly topic: string,
    /** The message ids of the send (a raw payload's label for publishRaw). */
    readonly messageIds: readonly string[],
    override readonly cause: unknown,
    /** Set when the producer could not connect: the brokers it tried (session 47). */
    readonly brokers?: readonly string[],
  ) {
    const what =
      messageIds.length === 1
        ? `message ${messageIds[0]}`
        : `messages ${messageIds[0]} (+${messageIds.length - 1} more)`;
    const at = brokers && brokers.length > 0 ? ` at ${brokers.join(',')}` : '';
    const connecting = brokers ? `cannot connect to Kafka${at}: ` : '';
    super(
      `Kafka did not acknowledge ${what} on topic ${JSON.stringify(topic)}: ${connecting}${
        (cause as Error | undefined)?.message ?? String(cause)
      }`,
    );
    this.name = 'KafkaPublishError';
  }
}

/**
 * What a crash or a probe says of subscribed topics the broker no longer has (session 47: it
 * said only kafkajs's "This server does not host this topic-partition"). The subscription
 * creates them again before its consumer restarts (session 48); a probe still naming one says
 * that failed (the creation's error went to `onError`).
 */
export function missingTopicsText(topics: readonly string[]): string {
  return topics
    .map(
      (topic) =>
        `topic ${JSON.stringify(topic)} does not exist on the broker (deleted since the ` +
        'subscription started? it is created again before the consumer restarts); ',
    )
    .join('');
}
