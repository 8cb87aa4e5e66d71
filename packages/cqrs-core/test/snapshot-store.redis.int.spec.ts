import { testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { SnapshotDecodeError } from '../src';
import { RedisSnapshotStore } from '../src/redis';
import { describeSnapshotStoreConformance } from '../src/testing/snapshot-store.conformance';

// The snapshot store contract against a real Redis; every key of this file under its prefix.
const ns = testNamespace('snapredis');
let redis: Redis;
let run = 0;

const snapshotOf = (streamId: string, version: number) => ({
  streamId,
  version,
  schemaVersion: 1,
  state: { x: version },
  createdAt: new Date().toISOString(),
});

beforeAll(() => {
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeSnapshotStoreConformance(
  'redis',
  (options) =>
    new RedisSnapshotStore({ client: redis, keyPrefix: `${ns.keyPrefix}${run++}:`, ...options }),
);

describe('RedisSnapshotStore', () => {
  it('keeps a stream in two keys under its prefix, and delete removes both', async () => {
    const prefix = `${ns.keyPrefix}keys:`;
    const store = new RedisSnapshotStore({ client: redis, keyPrefix: prefix });
    await store.save(snapshotOf('Trainer-ash', 1));
    await store.save(snapshotOf('Trainer-ash', 2));
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual([
      `${prefix}d:Trainer-ash`,
      `${prefix}i:Trainer-ash`,
    ]);
    await expect(store.delete('Trainer-ash')).resolves.toBe(2);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('refuses a missing client, naming it', () => {
    expect(() => new RedisSnapshotStore({} as never)).toThrow(
      'RedisSnapshotStore: options.client must be a connected ioredis client',
    );
  });

  it('never loads nothing while a save trims the snapshots a load was about to read', async () => {
    const store = new RedisSnapshotStore({
      client: redis,
      keyPrefix: `${ns.keyPrefix}race:`,
      keep: 1,
    });
    await store.save(snapshotOf('Trainer-ash', 1));
    let misses = 0;
    let saving = true;
    const loads = (async () => {
      while (saving) if (!(await store.loadLatest('Trainer-ash', { schemaVersion: 1 }))) misses++;
    })();
    for (let version = 2; version < 300; version++)
      await store.save(snapshotOf('Trainer-ash', version));
    saving = false;
    await loads;
    expect(misses).toBe(0);
  });

  it('reports a snapshot whose metadata cannot be read, and loads the next older one', async () => {
    const unreadable: unknown[] = [];
    const prefix = `${ns.keyPrefix}meta:`;
    const store = new RedisSnapshotStore({
      client: redis,
      keyPrefix: prefix,
      onUnreadable: (error) => unreadable.push(error),
    });
    await store.save(snapshotOf('Trainer-ash', 1));
    await store.save(snapshotOf('Trainer-ash', 2));
    await redis.hset(`${prefix}d:Trainer-ash`, '1:2', 'not json');
    await expect(store.loadLatest('Trainer-ash', { schemaVersion: 1 })).resolves.toMatchObject({
      version: 1,
      state: { x: 1 },
    });
    expect(unreadable).toHaveLength(1);
    expect(unreadable[0]).toBeInstanceOf(SnapshotDecodeError);
  });
});
