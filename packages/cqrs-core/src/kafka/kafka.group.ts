/**
 * The Kafka consumer group of a subscription: `<prefix><group>` — the handler group name, with
 * the subscriber's `groupIdPrefix`. Its topics are not part of it.
 *
 * Members of one group may subscribe different topics: the subscription-aware assigner
 * (kafka.assigner) deals each topic's partitions only among the members that subscribed to it.
 * So a handler keeps its Kafka group when its event types change — during a rolling deploy the
 * old and the new instances share the group (each message is handled once: the old topics'
 * partitions are split among all instances, an added topic goes to the new ones only), a
 * rollback resumes from the group's offsets, and an EventBus serving a renamed type's former
 * topic serves it in the same group as the release that still publishes it. As on Redis Streams
 * (one consumer group per stream, named after the handler group).
 *
 * Upgrade. Causeway releases before this one used `<prefix><group>.<12 hex digits of the sorted
 * topics>`. Before its first member joins, a group with no committed offsets is seeded from
 * those legacy groups of the same handler group name (seedFromPredecessors): each topic-partition
 * starts at the highest offset any of them committed, so upgrading does not read the topics
 * again. A topic no legacy group consumed starts per `startFrom`. If seeding fails or takes
 * longer than 30 s it is reported to the subscriber's `onError` and the group starts per
 * `startFrom`. Old-release instances still running in a rolling upgrade stay in their legacy
 * group: during that one last overlap both handle what is published (docs/adr/004).
 * Hazards: renaming the handler group or changing `groupIdPrefix` starts afresh. Subscriptions
 * sharing a group name compete for the messages of the topics they have in common.
 * Deliveries report `group` as subscribed; use this id with Kafka's tools, ACLs and
 * registerKafkaLag.
 */
export function kafkaGroupId(group: string, prefix = ''): string {
  return `${prefix}${group}`;
}
