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
 * A handler whose topics change gets a new Kafka group. Before its first member joins, a group
 * with no committed offsets is seeded from its predecessors, the other Kafka groups of the same
 * handler group name (seedFromPredecessors): each topic-partition a predecessor committed starts
 * at the highest offset committed among them — the handler of that name already handled what
 * lies below — so adding or removing an event type does not read the other topics again. Only a
 * topic no predecessor consumed (the added type) starts per `startFrom`.
 * Hazards: renaming the handler group or changing `groupIdPrefix` still starts afresh (no
 * predecessor has the same name). If seeding fails or takes longer than 30 s it is reported to
 * the subscriber's `onError` and the group starts per `startFrom` (earliest for competing
 * handlers: the topics are read again). Subscriptions sharing a group name on purpose with
 * different topics count as each other's predecessors: a new one starts where the others are.
 * Deliveries report `group` as subscribed; use this id with Kafka's tools and with
 * registerKafkaLag.
 */
export function kafkaGroupId(group: string, topics: readonly string[], prefix = ''): string {
  const digest = createHash('sha256')
    .update([...new Set(topics)].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
  return `${prefix}${group}.${digest}`;
}
