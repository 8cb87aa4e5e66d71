import { createHash } from 'node:crypto';
import { type Admin } from 'kafkajs';

/** What seedFromPredecessors did (tests and logs). */
export type GroupSeedOutcome =
  /** The group has committed offsets of its own: left as it is. */
  | { readonly seeded: false; readonly reason: 'own-offsets' }
  /** No legacy group of the same handler group name has committed any of these topics. */
  | { readonly seeded: false; readonly reason: 'no-predecessor' }
  /** Another instance (or member) joined the group first: it seeds, or already has progress. */
  | { readonly seeded: false; readonly reason: 'group-active' }
  /** Offsets were set for these topic-partitions, taken from `predecessors`. */
  | {
      readonly seeded: true;
      readonly predecessors: readonly string[];
      readonly offsets: readonly { topic: string; partition: number; offset: string }[];
    };

export interface GroupSeedRequest {
  /** The Kafka group to seed: kafkaGroupId(group, prefix). */
  readonly groupId: string;
  /** The handler group name as subscribed. */
  readonly group: string;
  /** The groupIdPrefix. */
  readonly prefix: string;
  /** The topics of the subscription. */
  readonly topics: readonly string[];
}

/**
 * Seeds a brand-new Kafka group from its predecessors, so that upgrading from the releases that
 * named groups after their topics does not read the topics again.
 *
 * A subscription's Kafka group is `<prefix><group>` (kafkaGroupId). Causeway releases before the
 * subscription-aware assigner (kafka.assigner) used `<prefix><group>.<12 hex digits of the
 * topics>`, one group per topic set; those legacy groups are the predecessors. When the group has
 * no committed offset for any of its topics, each topic-partition that a predecessor has
 * committed is set to the HIGHEST offset committed among the predecessors: the handler of that
 * name — the same name, the same logic — has already handled everything below it, in whichever
 * of its versions. The others (a topic no predecessor consumed) start per `startFrom`, as a new
 * group does. A group with any committed offset of its own is never touched (its own progress
 * wins), so once a release with this assigner has committed, the legacy groups are ignored.
 *
 * Race. Instances of the new version may start together: each may find the group empty and seed
 * it with the same values (harmless). kafkajs's setOffsets refuses a group that has a member;
 * then another instance has joined first (having seeded it) and this one goes on without seeding.
 * Hazard: with several topics to seed, an instance that joins while another is still seeding
 * leaves the remaining topics of that other one unseeded (they start per `startFrom`); so does a
 * second subscription sharing the group name with other topics, started after the first joined.
 *
 * Offsets are set without the attempt marker the predecessor had committed (kafka.attempts): the
 * message at a seeded offset is counted from attempt 1 again. setOffsets briefly joins the group
 * with a throw-away consumer per topic, one topic after another.
 *
 * @throws whatever the admin client throws (the caller bounds the time and goes on without seeding)
 */
export async function seedFromPredecessors(
  admin: Admin,
  request: GroupSeedRequest,
  isAbandoned: () => boolean = () => false,
): Promise<GroupSeedOutcome> {
  const topics = [...new Set(request.topics)];
  const own = await admin.fetchOffsets({ groupId: request.groupId, topics });
  if (own.some(({ partitions }) => partitions.some(({ offset }) => isCommitted(offset))))
    return { seeded: false, reason: 'own-offsets' };

  const predecessors = predecessorGroups(
    (await admin.listGroups()).groups.map(({ groupId }) => groupId),
    request,
  );
  const highest = new Map<string, { topic: string; partition: number; offset: bigint }>();
  const committed = await Promise.all(
    predecessors.map((groupId) => admin.fetchOffsets({ groupId, topics })),
  );
  for (const offsets of committed) {
    for (const { topic, partitions } of offsets) {
      for (const { partition, offset } of partitions) {
        if (!isCommitted(offset)) continue;
        const key = `${topic}\u0000${partition}`;
        const value = BigInt(offset);
        const known = highest.get(key);
        if (!known || value > known.offset) highest.set(key, { topic, partition, offset: value });
      }
    }
  }
  if (highest.size === 0) return { seeded: false, reason: 'no-predecessor' };

  const offsets = [...highest.values()].map(({ topic, partition, offset }) => ({
    topic,
    partition,
    offset: offset.toString(),
  }));
  for (const topic of new Set(offsets.map((entry) => entry.topic))) {
    if (isAbandoned()) throw new Error('seeding abandoned (took too long)');
    const partitions = offsets
      .filter((entry) => entry.topic === topic)
      .map(({ partition, offset }) => ({ partition, offset }));
    try {
      await admin.setOffsets({ groupId: request.groupId, topic, partitions });
    } catch (error) {
      if (isGroupActive(error)) return { seeded: false, reason: 'group-active' };
      throw error;
    }
  }
  return { seeded: true, predecessors, offsets };
}

/**
 * The Kafka group id Causeway used before the subscription-aware assigner (kafka.assigner):
 * `<prefix><group>.<first 12 hex digits of sha256 of the sorted, distinct topics joined by \n>`.
 * Only to find (and test) the groups an upgrade is seeded from.
 */
export function legacyKafkaGroupId(group: string, topics: readonly string[], prefix = ''): string {
  const digest = createHash('sha256')
    .update([...new Set(topics)].sort().join('\n'))
    .digest('hex')
    .slice(0, 12);
  return `${prefix}${group}.${digest}`;
}

/** Legacy Kafka groups of the same handler group name: `<prefix><group>.<12 hex>`, not `groupId`. */
export function predecessorGroups(
  groupIds: readonly string[],
  request: GroupSeedRequest,
): string[] {
  const base = `${request.prefix}${request.group}.`;
  return groupIds
    .filter(
      (groupId) =>
        groupId !== request.groupId &&
        groupId.length === base.length + 12 &&
        groupId.startsWith(base) &&
        /^[0-9a-f]{12}$/.test(groupId.slice(base.length)),
    )
    .sort();
}

/** Kafka answers -1 for a partition the group has not committed. */
function isCommitted(offset: string): boolean {
  return /^\d+$/.test(offset);
}

/** kafkajs's setOffsets refuses a group with members ("must have no running instances"). */
function isGroupActive(error: unknown): boolean {
  const message = (error as Error | undefined)?.message ?? '';
  return /no running instances/i.test(message);
}
