import { testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { RedisSnapshotStore } from '../src/redis';
import { describeSnapshotStoreConformance } from '../src/testing/snapshot-store.conformance';

// The snapshot store contract against a real Redis; every key of this file under its prefix.
const ns = testNamespace('snapredis');
let redis: Redis;
let run = 0;

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
    const at = (version: number) => ({
      streamId: 'Trainer-ash',
      version,
      schemaVersion: 1,
      state: { x: version },
      createdAt: new Date().toISOString(),
    });
    await store.save(at(1));
    await store.save(at(2));
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
});
