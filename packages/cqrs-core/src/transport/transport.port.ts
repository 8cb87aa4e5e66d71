import { type Envelope } from '../messages/envelope';

/**
 * Sends messages to a topic of a broker (Redis Streams, Kafka, in-memory).
 *
 * Contract:
 * - Safe to call concurrently.
 * - Resolves once the broker has durably accepted every message of the call (as durable as the
 *   broker is configured to be); rejects if any was not accepted — the caller may publish the
 *   whole batch again (consumers deduplicate by messageId).
 * - A batch costs one round trip to the broker.
 * - Messages with the same `aggregateId` are delivered in publish order (per priority lane).
 * - Refuses a message over the transport's size limit before sending anything
 *   (MessageTooLargeError).
 * - Refuses a topic that is not a non-empty string, or that holds ':' or white space, before
 *   sending anything, an empty batch too (InvalidTopicError, checkTopic; every transport alike),
 *   and one its broker can never take (Kafka's characters and length).
 * - Refuses a message whose `aggregateId` is no string ('' for none) before sending anything of
 *   the batch (TypeError, checkOrderKey; every transport alike).
 */
export interface Publisher {
  publish(topic: string, messages: readonly Envelope[]): Promise<void>;
  /**
   * Flushes and releases connections. Publishing after close rejects with TransportClosedError
   * (every transport). Safe to call twice.
   */
  close(): Promise<void>;
}

/** One delivery of a message to a subscriber. */
export interface Delivery {
  readonly topic: string;
  readonly envelope: Envelope;
  /** 1 on the first delivery; grows with every redelivery (nack, consumer crash). */
  readonly attempt: number;
  /** Where the message sits in the broker: a stream entry id, `partition:offset`, … */
  readonly position: string;
  /** The consumer group the delivery belongs to. */
  readonly group: string;
  /**
   * Aborted when the handler should give up, its `reason` saying why: the `timeout` middleware
   * aborts it (with a HandlerTimeoutError) when the handler's time is up. Pass it on to what
   * the handler awaits (`fetch(url, { signal })`, a driver call, `setTimeout` from
   * node:timers/promises) so a timed-out attempt stops instead of running on beside its retry.
   * Transports leave it unset; without the middleware it is undefined.
   */
  readonly signal?: AbortSignal;
}

/**
 * Handles one delivery. Resolving acknowledges it (it is never delivered to this group again);
 * rejecting leaves it unacknowledged, and the transport delivers it again later (attempt + 1).
 * The resolved value is ignored by transports (the router uses it for command replies).
 * Retrying in process and dead-lettering are router middleware, not transport concerns.
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<unknown>;

export interface SubscribeOptions {
  /**
   * Consumer group. Subscribers sharing a group compete: each message goes to one of them.
   * For fan-out give every instance its own group (see `groupName`).
   */
  group: string;
  /** This consumer's name within the group, unique per process (e.g. the instance id). */
  consumer: string;
  /**
   * Maximum deliveries in flight for this subscription (back-pressure), all its topics
   * together: a positive integer, default 16. On Kafka it is the number of partitions handled at once: a partition's messages
   * run one after another, so a message being retried holds back the later messages of its
   * partition, whatever their key (Redis Streams and in-memory hold back only its key).
   */
  maxInFlight?: number;
  /**
   * Where delivery starts for a group that has never consumed the topic: 'earliest' (default:
   * nothing published before is lost) or 'latest' (only new messages: every message published
   * once subscribe() resolved, none before it — fan-out groups of ephemeral instances, such as
   * SSE gateways, use this). Any other value is refused.
   */
  startFrom?: 'earliest' | 'latest';
  /**
   * Recorded on the poison this subscription hands to `onPoison` (PoisonMessage.replayFor): the
   * consumer groups a replay of its dead letter is for, when not just `group`. The Router sets
   * a fan-out handler's (every instance's group, fanOutReplayTarget): by replay time the
   * instance whose group met the poison is usually gone (a deploy).
   */
  replayFor?: string;
}

/** A running subscription. */
export interface SubscriptionHandle {
  /**
   * Stops taking new deliveries, waits for those in flight to finish and be acknowledged, then
   * resolves. Unfinished work stays pending in the broker for the group.
   */
  close(): Promise<void>;
}

/**
 * Receives messages of topics through consumer groups.
 *
 * Contract:
 * - Each message is delivered at least once to each group; handlers must be idempotent
 *   (the deduplicator middleware helps).
 * - Messages with the same `aggregateId` are handled one after another, in publish order,
 *   within a group — even with several consumers (per priority lane).
 * - A message that cannot be decoded (bad JSON, checksum, schema, unknown type) is handed to
 *   `onPoison` (without one: a process warning, see warnOfPoison) and acknowledged; it never
 *   blocks its stream or partition.
 * - When a consumer dies, its unacknowledged messages are redelivered to a live consumer of the
 *   group (after the transport's claim/rebalance delay).
 */
export interface Subscriber {
  /**
   * Starts consuming `topics` (at least one) for `options.group`.
   * @throws RangeError when `topics` is empty, InvalidTopicError when one of them is not a
   *   non-empty string, TypeError naming the option and the value when
   *   `group` or `consumer` is not a non-empty string, `maxInFlight` not a positive integer or
   *   `startFrom` neither 'earliest' nor 'latest' — at once, before anything is subscribed
   *   (checkSubscribeOptions; every backend alike)
   * @throws TransportClosedError after close() (every transport)
   */
  subscribe(
    topics: readonly string[],
    options: SubscribeOptions,
    handler: DeliveryHandler,
  ): Promise<SubscriptionHandle>;
  /**
   * Closes every subscription (as SubscriptionHandle.close) and releases connections.
   * Subscribing afterwards rejects with TransportClosedError. Safe to call twice.
   */
  close(): Promise<void>;
  /**
   * false when this subscriber cannot decode messages of `type` (its serializer does not know
   * it): every one would be poison, acknowledged and never handled. true when it can, or cannot
   * tell (a serializer that takes any type). The router asks it for the types a handler names.
   */
  decodes?(type: string): boolean;
}

/** What a transport guarantees; the conformance suite branches on it (Watermill's Features). */
export interface TransportFeatures {
  /** Messages survive a restart of the broker process. */
  persistent: boolean;
  /** Priority lanes (critical, high, normal, low) are honoured. */
  priorities: boolean;
  /** A dead consumer's messages are redelivered to a live one. */
  redeliversFromDeadConsumers: boolean;
}

/** A message that a subscriber could not decode, and why. */
export interface PoisonMessage {
  topic: string;
  position: string;
  group: string;
  /** The raw payload as received. */
  raw: string;
  reason: string;
  /** The subscription's SubscribeOptions.replayFor, when it has one. */
  replayFor?: string;
}

/** Fan-out groups carry the instance id; competing groups are shared by every instance of a service. */
export function groupName(
  service: string,
  handler: string,
  mode: 'competing' | 'fan-out',
  instanceId: string,
): string {
  return mode === 'competing' ? `${service}.${handler}` : `${service}.${handler}.${instanceId}`;
}
