import Redis from 'ioredis';
import { type TestNamespace } from '@causeway/testkit';
import { RedisGroupMembers, RedisTrainerPositions } from '../src';
import { positionRow as row, readModelsOn } from './read-models.harness';

// The Redis read models against a real server; every test gets a fresh key prefix.
/** A fresh key prefix in the file's namespace. */
const optionsOf = (client: Redis, name: string, ns: TestNamespace) => ({
  client,
  keyPrefix: `${ns.keyPrefix}${name}:`,
});
const server = readModelsOn<Redis>('redis', {
  open: (ns) => new Redis(ns.redisUrl),
  close: async (redis, ns) => {
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  },
  positions: async (...fresh) => new RedisTrainerPositions(optionsOf(...fresh)),
  groups: async (...fresh) => new RedisGroupMembers(optionsOf(...fresh)),
});
const fresh = () => optionsOf(server.client(), server.fresh(), server.ns);

describe('redis read models', () => {
  let redis: Redis;
  beforeAll(() => (redis = server.client()));

  it('ends at version 8 when two instances apply versions 1..8 concurrently, shuffled', async () => {
    // Two instances on two connections: the guard must hold in Redis, not in one client.
    const other = redis.duplicate();
    try {
      const options = fresh();
      const instances = [
        new RedisTrainerPositions(options),
        new RedisTrainerPositions({ ...options, client: other }),
      ];
      const versions = [1, 2, 3, 4, 5, 6, 7, 8].sort(() => Math.random() - 0.5);
      const results = await Promise.all(
        versions.map((version, i) => instances[i % 2]!.apply(row(version))),
      );
      for (const result of results) expect(typeof result).toBe('boolean');
      // Version 8 is applied by whoever gets it: nothing can be stored above it.
      expect(results[versions.indexOf(8)]).toBe(true);
      expect(await instances[0]!.get('ash')).toEqual(row(8));
      expect(await instances[1]!.apply(row(8))).toBe(false);
    } finally {
      other.disconnect();
    }
  });

  it('finds the recent rows an earlier release stored without the index', async () => {
    const options = fresh();
    const positions = new RedisTrainerPositions(options);
    await positions.apply(row(1));
    // An earlier release's rows: in the hash only.
    const misty = { ...row(5), trainerId: 'misty' };
    const brock = { ...row(2), trainerId: 'brock' };
    await redis.hset(positions.key, 'misty', JSON.stringify(misty), 'brock', JSON.stringify(brock));
    expect(await positions.recent(row(2).updatedAt)).toEqual([brock, misty]);
    expect(await redis.zcard(positions.indexKey)).toBe(3);
    expect(await positions.recent(row(3).updatedAt)).toEqual([misty]);
  });

  it('repairs memberships a partial loss took when their last changes are replayed (a rebuild)', async () => {
    const options = fresh();
    const groups = new RedisGroupMembers(options);
    const changes = [
      { trainerId: 'ash', groupId: 'party', action: 'join', version: 3 },
      { trainerId: 'misty', groupId: 'party', action: 'join', version: 4 },
      { trainerId: 'brock', groupId: 'party', action: 'join', version: 1 },
      { trainerId: 'brock', groupId: 'party', action: 'leave', version: 2 },
    ] as const;
    for (const change of changes) await groups.apply(change);
    // The sets go (an evicting policy, a partial restore); the versions hashes stay. A stale
    // member comes back from an old copy of the set.
    await redis.del(`${options.keyPrefix}read-models:group-members:party`);
    await redis.del(`${options.keyPrefix}read-models:trainer-groups:misty`);
    await redis.sadd(`${options.keyPrefix}read-models:group-members:party`, 'brock');
    expect(await groups.membersOf('party')).toEqual(['brock']);
    // The runbook's rebuild replays every change (leaves first): nothing is newer, all repair.
    for (const change of [changes[3], changes[0], changes[1], changes[2]])
      expect(await groups.apply(change)).toBe(false);
    expect(await groups.membersOf('party')).toEqual(['ash', 'misty']);
    expect(await groups.groupsOf('misty')).toEqual(['party']);
    expect(await groups.groupsOf('brock')).toEqual([]);
  });

  it("reads an earlier release's versions hash, which held the version alone", async () => {
    const options = fresh();
    const groups = new RedisGroupMembers(options);
    await redis.hset(`${options.keyPrefix}read-models:group-versions:ash`, 'party', '3');
    expect(
      await groups.apply({ trainerId: 'ash', groupId: 'party', action: 'join', version: 3 }),
    ).toBe(false);
    expect(await groups.membersOf('party')).toEqual([]);
    expect(
      await groups.apply({ trainerId: 'ash', groupId: 'party', action: 'join', version: 4 }),
    ).toBe(true);
    expect(await groups.membersOf('party')).toEqual(['ash']);
  });

  it('keeps its keys under the prefix: positions in one hash, memberships in per-id keys', async () => {
    const options = fresh();
    await new RedisTrainerPositions(options).apply(row(1));
    await new RedisGroupMembers(options).apply({
      trainerId: 'ash',
      groupId: 'party',
      action: 'join',
      version: 1,
    });
    expect((await redis.keys(`${options.keyPrefix}*`)).sort()).toEqual(
      [
        'read-models:group-members:party',
        'read-models:group-versions:ash',
        'read-models:positions',
        'read-models:positions:updated',
        'read-models:trainer-groups:ash',
      ].map((key) => options.keyPrefix + key),
    );
  });
});
