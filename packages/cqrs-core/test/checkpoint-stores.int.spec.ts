import mongoose, { type Connection } from 'mongoose';
import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { InMemoryCheckpointStore } from '../src';
import { describeCheckpointStoreConformance } from '../src/testing';
import { MongoCheckpointStore } from '../src/mongodb';
import { RedisCheckpointStore } from '../src/redis';

const ns = testNamespace('checkpoints');
let connection: Connection;
let redis: Redis;
let run = 0;

beforeAll(async () => {
  connection = await mongoose.createConnection(ns.mongoUri()).asPromise();
  redis = new Redis(ns.redisUrl);
});
afterAll(async () => {
  await connection.dropDatabase();
  await connection.close();
  const keys = await redis.keys(`${ns.keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describeCheckpointStoreConformance('in-memory', async () => new InMemoryCheckpointStore());
describeCheckpointStoreConformance(
  'mongodb',
  async () => new MongoCheckpointStore(connection, `checkpoints_${run++}`),
);
describeCheckpointStoreConformance(
  'redis',
  async () => new RedisCheckpointStore(redis, `${ns.keyPrefix}checkpoints:${run++}`),
);

describe('RedisCheckpointStore keys', () => {
  it('keeps its checkpoints in <keyPrefix>checkpoints, as the other Redis stores name keys', async () => {
    const store = new RedisCheckpointStore(redis, { keyPrefix: `${ns.keyPrefix}p.` });
    await store.save('positions', 42);
    expect(await redis.hget(`${ns.keyPrefix}p.checkpoints`, 'positions')).toBe('42');
    expect(
      await new RedisCheckpointStore(redis, { key: `${ns.keyPrefix}p.checkpoints` }).load(
        'positions',
      ),
    ).toBe(42);
  });

  it('refuses a key that is neither a non-empty string nor { key } / { keyPrefix }', () => {
    expect(() => new RedisCheckpointStore(redis, '')).toThrow(TypeError);
    expect(() => new RedisCheckpointStore(redis, 42 as unknown as string)).toThrow(
      /non-empty string or \{ key \} \/ \{ keyPrefix \}, got 42/,
    );
  });
});

describe('RedisCheckpointStore stored values', () => {
  it.each([
    ['abc', TypeError, '"abc"'],
    ['', TypeError, '""'],
    ['12.5', TypeError, '"12.5"'],
    ['-3', TypeError, '"-3"'],
    ['0x10', TypeError, '"0x10"'],
    ['99999999999999999999', RangeError, '100000000000000000000'],
  ])(
    'refuses to load a hand-edited %p, naming the hash, the field and the value',
    async (stored, type, shown) => {
      const key = `${ns.keyPrefix}checkpoints:edited:${run++}`;
      const store = new RedisCheckpointStore(redis, key);
      await store.save('positions', 42);
      await store.save('other', 7);
      await redis.hset(key, 'positions', stored);
      const loaded = store.load('positions');
      await expect(loaded).rejects.toThrow(type);
      await expect(loaded).rejects.toThrow(
        `RedisCheckpointStore: the field "positions" of the hash "${key}" holds ${shown}, not a checkpoint position (a non-negative integer (at most 9007199254740991))`,
      );
      expect(await store.load('other')).toBe(7);
      // Set right by hand again, it loads.
      await redis.hset(key, 'positions', '43');
      expect(await store.load('positions')).toBe(43);
    },
  );
});

describe('MongoCheckpointStore stored values', () => {
  it.each([
    ['abc', TypeError, '"abc"'],
    [12.5, RangeError, '12.5'],
    [-3, RangeError, '-3'],
  ])(
    'refuses to load a hand-edited position of %p, naming the collection, the name and the value',
    async (stored, type, shown) => {
      const collection = `checkpoints_edited_${run++}`;
      const store = new MongoCheckpointStore(connection, collection);
      await store.save('positions', 42);
      await connection
        .db!.collection(collection)
        .updateOne({ name: 'positions' }, { $set: { position: stored } });
      const loaded = store.load('positions');
      await expect(loaded).rejects.toThrow(type);
      await expect(loaded).rejects.toThrow(
        `MongoCheckpointStore: the checkpoint "positions" in the collection "${collection}" holds ${shown}, not a checkpoint position (a non-negative integer (at most 9007199254740991))`,
      );
    },
  );
});

describe('MongoCheckpointStore construction', () => {
  it('takes { connection, collection } as the other MongoDB stores do', async () => {
    const store = new MongoCheckpointStore({ connection, collection: 'checkpoints_options' });
    await store.save('positions', 7);
    const saved = await connection.db!.collection('checkpoints_options').findOne({});
    expect(saved).toMatchObject({ name: 'positions', position: 7 });
    expect(
      await new MongoCheckpointStore(connection, 'checkpoints_options').load('positions'),
    ).toBe(7);
  });

  it('refuses something that is not a connection, naming what it takes', () => {
    expect(() => new MongoCheckpointStore({} as never)).toThrow(
      'MongoCheckpointStore: pass an open mongoose connection, or { connection, collection }',
    );
  });
});
