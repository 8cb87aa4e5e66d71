import { type Admin } from 'kafkajs';
import { kafkaGroupId } from './kafka.group';
import { legacyKafkaGroupId, predecessorGroups, seedFromPredecessors } from './kafka.group-seed';

type Offsets = Record<string, Record<string, Record<number, string>>>; // group → topic → partition → offset

/** An admin whose groups have the given committed offsets; setOffsets writes into them. */
function fakeAdmin(offsets: Offsets, setOffsetsError?: Error) {
  const setOffsets = jest.fn(
    async ({
      groupId,
      topic,
      partitions,
    }: {
      groupId: string;
      topic: string;
      partitions: { partition: number; offset: string }[];
    }) => {
      if (setOffsetsError) throw setOffsetsError;
      const group = (offsets[groupId] ??= {});
      for (const { partition, offset } of partitions) (group[topic] ??= {})[partition] = offset;
    },
  );
  const admin = {
    listGroups: jest.fn(async () => ({
      groups: Object.keys(offsets).map((groupId) => ({ groupId, protocolType: 'consumer' })),
    })),
    fetchOffsets: jest.fn(async ({ groupId, topics }: { groupId: string; topics: string[] }) =>
      topics.map((topic) => ({
        topic,
        partitions: [0, 1].map((partition) => ({
          partition,
          offset: offsets[groupId]?.[topic]?.[partition] ?? '-1',
          metadata: null,
        })),
      })),
    ),
    setOffsets,
  };
  return { admin: admin as unknown as Admin, setOffsets, offsets };
}

const prefix = 'p.';
const request = (topics: string[]) => ({
  groupId: kafkaGroupId('ledger', prefix),
  group: 'ledger',
  prefix,
  topics,
});

describe('predecessorGroups', () => {
  it('lists the legacy groups of the same handler group name only', () => {
    const own = request(['A', 'B']);
    const old = legacyKafkaGroupId('ledger', ['A'], prefix);
    const groups = [
      own.groupId,
      old,
      legacyKafkaGroupId('ledger.pod-1', ['A'], prefix), // a fan-out group of another name
      legacyKafkaGroupId('ledger', ['A'], 'q.'), // another prefix
      legacyKafkaGroupId('ledgers', ['A'], prefix),
      'p.ledger.not-a-digest',
      'p.ledger.ABCDEF012345',
    ];
    expect(predecessorGroups(groups, own)).toEqual([old]);
  });
});

describe('seedFromPredecessors', () => {
  it('sets each partition a predecessor committed to the highest offset among them', async () => {
    const older = legacyKafkaGroupId('ledger', ['A', 'C'], prefix);
    const newer = legacyKafkaGroupId('ledger', ['A'], prefix);
    const { admin, offsets } = fakeAdmin({
      [older]: { A: { 0: '5', 1: '40' }, C: { 0: '7' } },
      [newer]: { A: { 0: '20' } },
      'p.other.0123456789ab': { B: { 0: '99' } },
    });
    const own = request(['A', 'B']);
    const outcome = await seedFromPredecessors(admin, own);
    expect(outcome).toEqual({
      seeded: true,
      predecessors: [older, newer].sort(),
      offsets: expect.arrayContaining([
        { topic: 'A', partition: 0, offset: '20' },
        { topic: 'A', partition: 1, offset: '40' },
      ]),
    });
    // B (the new type) has no predecessor: it starts per startFrom.
    expect(offsets[own.groupId]).toEqual({ A: { 0: '20', 1: '40' } });
  });

  it('never touches a group that has committed offsets of its own', async () => {
    const own = request(['A', 'B']);
    const { admin, setOffsets } = fakeAdmin({
      [own.groupId]: { B: { 1: '3' } },
      [legacyKafkaGroupId('ledger', ['A'], prefix)]: { A: { 0: '20' } },
    });
    await expect(seedFromPredecessors(admin, own)).resolves.toEqual({
      seeded: false,
      reason: 'own-offsets',
    });
    expect(setOffsets).not.toHaveBeenCalled();
  });

  it('does nothing without a predecessor', async () => {
    const { admin, setOffsets } = fakeAdmin({
      [legacyKafkaGroupId('x', ['A'], prefix)]: { A: { 0: '1' } },
    });
    await expect(seedFromPredecessors(admin, request(['A']))).resolves.toEqual({
      seeded: false,
      reason: 'no-predecessor',
    });
    expect(setOffsets).not.toHaveBeenCalled();
  });

  it('goes on when another instance joined the group first', async () => {
    const { admin } = fakeAdmin(
      { [legacyKafkaGroupId('ledger', ['A'], prefix)]: { A: { 0: '20' } } },
      new Error('The consumer group must have no running instances, current state: Stable'),
    );
    await expect(seedFromPredecessors(admin, request(['A', 'B']))).resolves.toEqual({
      seeded: false,
      reason: 'group-active',
    });
  });

  it('passes other admin errors on (the subscription reports them and starts without seeding)', async () => {
    const { admin } = fakeAdmin(
      { [legacyKafkaGroupId('ledger', ['A'], prefix)]: { A: { 0: '20' } } },
      new Error('Connection timeout'),
    );
    await expect(seedFromPredecessors(admin, request(['A', 'B']))).rejects.toThrow(
      'Connection timeout',
    );
  });
});
