import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { RedisReadStore } from '../src/redis';

// RedisReadStore's `indexed` list is part of its data: rows written under one list are in no
// index set of a field added later. The list is recorded, a different one refused, and
// reindex() changes it deliberately.
const ns = testNamespace('readredisidx');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  redis.disconnect();
  await removeNamespaceData(ns, ['redis']);
});

const store = (name: string, indexed: string[]) =>
  new RedisReadStore({ client: redis, keyPrefix: `${ns.keyPrefix}${name}:`, indexed });

const mismatch = (name: string, given: string, recorded: string) =>
  `RedisReadStore: options.indexed is ${given}, but the rows under "${ns.keyPrefix}${name}:" ` +
  `are indexed by ${recorded}: its queries would miss rows. To change the list, call reindex() ` +
  'once on a store with the new list (it rebuilds the index sets and records the list), and ' +
  'run only processes with that list; or use a new keyPrefix';

describe('RedisReadStore indexed list', () => {
  it('refuses a store with another list than the rows were written with, naming both', async () => {
    const v1 = store('changed', ['status']);
    await v1.put('t1', { status: 'active', zone: 'kanto' });
    await v1.put('t2', { status: 'active', zone: 'johto' });
    // The next deploy declares `zone` too: the rows written before are in no `zone` set.
    const v2 = store('changed', ['zone', 'status']);
    const refused = mismatch('changed', '["status","zone"]', '["status"]');
    await expect(v2.init()).rejects.toThrow(refused);
    await expect(v2.find({ where: { zone: 'kanto' } })).rejects.toThrow(refused);
    await expect(v2.count()).rejects.toThrow(refused);
    await expect(v2.countBy('zone')).rejects.toThrow(refused);
    await expect(v2.put('t3', { status: 'away', zone: 'kanto' })).rejects.toThrow(refused);
    await expect(v1.get('t3')).resolves.toBeUndefined();
    // Order and repeats do not matter: v2 gave `zone` first, this one `status` twice.
    await expect(store('changed', ['status', 'status']).init()).resolves.toBeUndefined();
    // Emptied, the store fits any list: clear() forgets it.
    await v1.clear();
    await expect(v2.put('t1', { status: 'away', zone: 'kanto' })).resolves.toBe(true);
    await expect(v2.count({ zone: 'kanto' })).resolves.toBe(1);
  });

  it('refuses the writes of a process still running the old list (rolling deploy)', async () => {
    const newer = store('rolling', ['status', 'zone']);
    const older = store('rolling', ['status']);
    await newer.put('t1', { status: 'active', zone: 'kanto' });
    await expect(older.put('t1', { status: 'resting', zone: 'kanto' })).rejects.toThrow(
      mismatch('rolling', '["status"]', '["status","zone"]'),
    );
    await expect(newer.count({ zone: 'kanto' })).resolves.toBe(1);
    await expect(newer.get('t1')).resolves.toEqual({ status: 'active', zone: 'kanto' });
  });

  it('reindex() rebuilds the index sets for a new list, in batches, and records it', async () => {
    const prefix = `${ns.keyPrefix}reindex:`;
    const v1 = store('reindex', ['status']);
    const ROWS = 1_200; // more than one batch
    await Promise.all(
      Array.from({ length: ROWS }, (_, i) =>
        v1.put(`t${i}`, { status: i % 2 ? 'active' : 'away', zone: i % 3 ? 'kanto' : 'johto' }),
      ),
    );
    const v2 = store('reindex', ['status', 'zone']);
    await expect(v2.reindex()).resolves.toBe(ROWS);
    await v2.init();
    await expect(v2.count({ zone: 'johto' })).resolves.toBe(ROWS / 3);
    await expect(v2.countBy('zone', { status: 'active' })).resolves.toEqual([
      { value: 'johto', count: ROWS / 6 },
      { value: 'kanto', count: ROWS / 3 },
    ]);
    // The old list's processes are refused now, before they un-index anything.
    await expect(v1.put('t0', { status: 'away', zone: 'kanto' })).rejects.toThrow(
      mismatch('reindex', '["status"]', '["status","zone"]'),
    );
    // A field dropped from the list leaves no index set behind.
    const v3 = store('reindex', ['zone']);
    await expect(v3.reindex()).resolves.toBe(ROWS);
    await expect(v3.count({ zone: 'kanto' })).resolves.toBe((ROWS * 2) / 3);
    expect(await redis.keys(`${prefix}i:*`)).toEqual(
      expect.arrayContaining([`${prefix}i:["zone","kanto"]`, `${prefix}i:["zone","johto"]`]),
    );
    expect(await redis.keys(`${prefix}i:*`)).toHaveLength(2);
  });

  it('refuses queries after a reindex() that stopped, until one runs to the end', async () => {
    const v1 = store('stopped', ['status']);
    await v1.put('t1', { status: 'active', zone: 'kanto' });
    // A row that cannot be read (written by hand, corrupt) stops the walk.
    await redis.set(`${ns.keyPrefix}stopped:r:bad`, '|{not json');
    await redis.sadd(`${ns.keyPrefix}stopped:ids`, 'bad');
    const v2 = store('stopped', ['status', 'zone']);
    await expect(v2.reindex()).rejects.toThrow(SyntaxError);
    await expect(v2.count({ zone: 'kanto' })).rejects.toThrow(
      `RedisReadStore: a reindex() to ["status","zone"] of the rows under "${ns.keyPrefix}stopped:" ` +
        'has not finished (it runs, or it stopped: run it again); queries would miss rows',
    );
    await redis.del(`${ns.keyPrefix}stopped:r:bad`);
    await expect(v2.reindex()).resolves.toBe(1);
    await expect(v2.count({ zone: 'kanto' })).resolves.toBe(1);
  });
});
