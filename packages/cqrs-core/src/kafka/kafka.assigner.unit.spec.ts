import { AssignerProtocol, type Cluster } from 'kafkajs';
import {
  assignBySubscription,
  SUBSCRIPTION_AWARE_ASSIGNER,
  subscriptionAwareAssigner,
} from './kafka.assigner';

const partitions: Record<string, number[]> = { A: [0, 1, 2, 3], B: [0, 1, 2], C: [0] };
const partitionsOf = (topic: string) => partitions[topic] ?? [];

describe('assignBySubscription', () => {
  it('deals each topic only among its subscribers, every partition exactly once', () => {
    const result = assignBySubscription(
      [
        { memberId: 'm2', topics: ['A', 'B'] },
        { memberId: 'm1', topics: ['A'] },
        { memberId: 'm3', topics: ['C'] },
      ],
      partitionsOf,
    );
    expect(Object.fromEntries(result)).toEqual({
      m1: { A: [0, 2] },
      m2: { A: [1, 3], B: [0, 1, 2] },
      m3: { C: [0] },
    });
  });

  it('is deterministic: the order members are listed in does not matter', () => {
    const members = [
      { memberId: 'b', topics: ['A', 'B', 'C'] },
      { memberId: 'a', topics: ['C', 'A'] },
      { memberId: 'c', topics: ['B'] },
    ];
    const once = assignBySubscription(members, partitionsOf);
    const reversed = assignBySubscription([...members].reverse(), partitionsOf);
    expect(Object.fromEntries(reversed)).toEqual(Object.fromEntries(once));
  });

  it('balances members with the same topics within one partition of each other', () => {
    const members = ['x', 'y', 'z'].map((memberId) => ({ memberId, topics: ['A', 'B', 'C'] }));
    const result = assignBySubscription(members, partitionsOf);
    const counts = [...result.values()].map((assignment) =>
      Object.values(assignment).reduce((sum, owned) => sum + owned.length, 0),
    );
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(8);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('lists a member that subscribed nothing with partitions, with nothing', () => {
    const result = assignBySubscription(
      [
        { memberId: 'm1', topics: ['C'] },
        { memberId: 'm2', topics: ['C'] },
      ],
      partitionsOf,
    );
    expect(Object.fromEntries(result)).toEqual({ m1: { C: [0] }, m2: {} });
  });
});

describe('subscriptionAwareAssigner (kafkajs protocol)', () => {
  it('reads each member’s topics from its metadata and encodes the assignments', async () => {
    const targets: string[][] = [];
    const cluster = {
      addMultipleTargetTopics: async (topics: string[]) => void targets.push(topics),
      findTopicPartitionMetadata: (topic: string) =>
        partitionsOf(topic).map((partitionId) => ({ partitionId })),
    } as unknown as Cluster;
    const assigner = subscriptionAwareAssigner({ cluster, groupId: 'g', logger: undefined! });
    const member = (memberId: string, topics: string[]) => ({
      memberId,
      memberMetadata: assigner.protocol({ topics }).metadata,
    });
    expect(assigner.protocol({ topics: ['A'] }).name).toBe(SUBSCRIPTION_AWARE_ASSIGNER);

    const assignments = await assigner.assign({
      members: [member('m1', ['A']), member('m2', ['B'])],
      topics: ['A'], // kafkajs passes the leader's own topics only
    });
    const decoded = Object.fromEntries(
      assignments.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment,
      ]),
    );
    expect(decoded).toEqual({ m1: { A: [0, 1, 2, 3] }, m2: { B: [0, 1, 2] } });
    expect(targets).toEqual([['A', 'B']]); // metadata of the other members' topics
  });
});
