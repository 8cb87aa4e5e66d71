import { AssignerProtocol, type Assignment, type PartitionAssigner } from 'kafkajs';

/** The group protocol name of subscriptionAwareAssigner (every member must advertise it). */
export const SUBSCRIPTION_AWARE_ASSIGNER = 'CausewaySubscriptionAware';

/** A member of the group as the leader sees it: its id and the topics it subscribed. */
export interface SubscribedMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/**
 * Deals each topic's partitions only among the members that subscribed to that topic.
 *
 * Topic-partitions are taken in order (topics sorted by name, partitions ascending); each goes
 * to the subscriber of its topic holding the fewest partitions of THAT topic so far, then the
 * fewest partitions overall, then the smallest member id. So the result depends only on the
 * members and partitions (every leader computes the same), each member gets only topics it
 * subscribed, every partition of a subscribed topic has exactly one owner, a topic's subscribers
 * hold counts of it within one of each other (the old topic of a rolling deploy is shared
 * between the old and the new instances), and single-partition topics are spread. Every member
 * is in the result, if only with nothing.
 */
export function assignBySubscription(
  members: readonly SubscribedMember[],
  partitionsOf: (topic: string) => readonly number[],
): Map<string, Assignment> {
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  const result = new Map<string, Assignment>();
  const load = new Map<string, number>();
  for (const { memberId } of sorted) {
    result.set(memberId, {});
    load.set(memberId, 0);
  }
  const topics = [...new Set(sorted.flatMap(({ topics: subscribed }) => subscribed))].sort();
  for (const topic of topics) {
    const subscribers = sorted.filter((member) => member.topics.includes(topic));
    const ofTopic = new Map(subscribers.map(({ memberId }) => [memberId, 0]));
    const fewer = (a: string, b: string) =>
      ofTopic.get(a)! < ofTopic.get(b)! ||
      (ofTopic.get(a) === ofTopic.get(b) && load.get(a)! < load.get(b)!);
    for (const partition of [...partitionsOf(topic)].sort((a, b) => a - b)) {
      let owner = subscribers[0]!.memberId;
      for (const { memberId } of subscribers) if (fewer(memberId, owner)) owner = memberId;
      (result.get(owner)![topic] ??= []).push(partition);
      ofTopic.set(owner, ofTopic.get(owner)! + 1);
      load.set(owner, load.get(owner)! + 1);
    }
  }
  return result;
}

/**
 * The partition assigner of every Causeway Kafka consumer: assignBySubscription over the topics
 * each member advertised in its metadata.
 *
 * Why not kafkajs's RoundRobin: its leader deals every partition of ITS OWN topics to all members
 * alike, whatever each one subscribed, so members of one group with different topic sets — a
 * rolling deploy that adds an event type to a handler, an EventBus serving a renamed type's old
 * topic, two handlers sharing a group name — would be given partitions they do not consume
 * (kafkajs drops them: nobody reads them) and topics only a non-leader subscribed would go to
 * nobody. With this assigner a group's members may subscribe different topics, so the Kafka group
 * id needs only the handler group name (kafkaGroupId).
 *
 * The leader loads metadata for the topics other members subscribed (it has only its own) before
 * dealing. Only this protocol is advertised: a member that supports only another one (kafkajs's
 * RoundRobin, i.e. a Causeway release before this assigner, or a foreign tool) cannot join the
 * group — the broker refuses it with INCONSISTENT_GROUP_PROTOCOL rather than letting it lead with
 * the subscription-blind assignment. Releases before it used other group ids anyway (docs/adr/004).
 */
export const subscriptionAwareAssigner: PartitionAssigner = ({ cluster }) => ({
  name: SUBSCRIPTION_AWARE_ASSIGNER,
  version: 0,
  async assign({ members }) {
    const subscribed = members.map(({ memberId, memberMetadata }) => ({
      memberId,
      topics: AssignerProtocol.MemberMetadata.decode(memberMetadata)?.topics ?? [],
    }));
    const topics = [...new Set(subscribed.flatMap(({ topics: mine }) => mine))];
    await cluster.addMultipleTargetTopics(topics);
    const assignments = assignBySubscription(subscribed, (topic) =>
      cluster.findTopicPartitionMetadata(topic).map(({ partitionId }) => partitionId),
    );
    return [...assignments].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: SUBSCRIPTION_AWARE_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
