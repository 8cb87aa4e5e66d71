import { createHash } from 'node:crypto';

/**
 * The Kafka consumer group of a subscription: `<prefix><group>.<digest of its topics>`.
 *
 * Kafka shares a group's partitions among its members by the topics each one subscribed, and a
 * member is given nothing of a topic it did not subscribe. So members of one group with different
 * topic sets — two handlers (or `@EventPattern`s) sharing a group name, a rolling deploy that
 * changes a handler's event types, two deployments with different topic prefixes on one cluster
 * — would leave topics unconsumed. With the topic set in the id such subscriptions never share a
 * Kafka group: one Kafka group per (group, topic set), as Redis Streams has one consumer group
 * per stream. Instances of one handler subscribe the same topics, so they still compete.
 *
 * Hazard: a handler whose topics change gets a new Kafka group, which starts per `startFrom`
 * (earliest for competing handlers: the topics are read again). Deliveries report `group` as
 * subscribed; use this id with Kafka's tools and with registerKafkaLag.
 */
export function kafkaGroupId(group: string, topics: readonly string[], prefix = ''): string {
  const digest = createHash('sha256')
    .update([...new Set(topics)].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
  return `${prefix}${group}.${digest}`;
}
