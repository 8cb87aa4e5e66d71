import {
  type DeadLetterQueue,
  type HealthProbe,
  type InMemoryBroker,
  type Subscriber,
} from '@causeway/cqrs-core';

/** What the order consumer tells a source when it starts (OrderConsumer). */
export interface OrderSourceContext {
  /** The order topic, prefix included (orderEventsTopic). */
  topic: string;
  /** The consumer group of the order handler, as the router names it (`<service>.orders`). */
  group: string;
  /** Where orders that cannot be decoded go (poisonToDeadLetters), so none is lost silently. */
  deadLetters: DeadLetterQueue;
  /** Told of the subscriber's errors (a crashing consumer), for the logs. */
  onError: (error: Error) => void;
}

/**
 * Where the order consumer reads orders from (ADR 015 point 2): Kafka in the distributed
 * system (kafkaOrderSource), the in-memory broker command-api publishes to in the embedded mode
 * (inMemoryOrderSource). The consumer's handler, middleware and readiness are the same on both.
 *
 * Contract: `subscriber` is this source's own (the consumer subscribes the order handler with it
 * and closes it at shutdown); `group` is the group as the broker names it (GET /monitor's
 * `consumerGroup`); `lag()` answers the messages of the topic the group has not handled yet,
 * undefined when the broker cannot tell (never rejects); `probe`, when given, joins readiness.
 */
export interface OrderSource {
  subscriber: Subscriber;
  group: string;
  lag(): Promise<number | undefined>;
  probe?: HealthProbe;
  /** `messaging.system` of the deliveries' spans (`kafka`, `in-memory`). */
  system?: string;
}

/** Makes the source once the consumer knows its topic, group and dead letters. */
export type OrderSourceFactory = (context: OrderSourceContext) => OrderSource;

/**
 * Orders from an InMemoryBroker (the embedded mode): a subscriber of the broker's own, the lag
 * being the group's messages waiting or in flight. Undecodable orders are handled as the
 * broker's `onPoison` says (its option, set where the broker is made).
 */
export function inMemoryOrderSource(broker: InMemoryBroker): OrderSourceFactory {
  return ({ topic, group }) => ({
    subscriber: broker.subscriber(),
    group,
    lag: async () => broker.pendingCount(topic, group),
    system: 'in-memory',
  });
}
