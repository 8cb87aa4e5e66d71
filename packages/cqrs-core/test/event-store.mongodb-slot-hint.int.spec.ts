import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { type EventStore, MessageFactory } from '../src';
import {
  type CommitDocument,
  mongoConnection,
  MongoEventStore,
  POSITIONS_PER_SLOT,
} from '../src/mongodb';
import { RedisSlotHint } from '../src/redis';
import { describeEventStoreConformance } from '../src/testing';

// The MongoDB event store with a shared slot hint in Redis (docs/adr/003, addendum): every
// "process" has its own connection and its own hint client, as separate writer processes do.
// The no-skip scenario runs at the same size as event-store.mongodb.int.spec.ts.
const appendsPerWriter = Number(process.env.ES_NO_SKIP_APPENDS ?? 125);

describeEventStoreConformance(
  'mongodb with a Redis slot hint',
  { densePositions: false, noSkip: { writers: 8, appendsPerWriter } },
  async () => {
    const ns = testNamespace('eshint');
    const connections: ReturnType<typeof mongoConnection>[] = [];
    const clients: Redis[] = [];
    const open = async (
      serializer?: ConstructorParameters<typeof MongoEventStore>[0]['serializer'],
    ): Promise<MongoEventStore> => {
      const connection = mongoConnection({
        uri: ns.mongoUri(),
        name: `es-${connections.length}`,
        maxPoolSize: 4,
      });
      connections.push(connection);
      await connection.open();
      const redis = new Redis(ns.redisUrl);
      clients.push(redis);
      const store = new MongoEventStore({
        connection: connection.client,
        serializer,
        slotHint: new RedisSlotHint(redis, { keyPrefix: `${ns.id}:` }),
      });
      await store.init();
      return store;
    };
    const store: EventStore = await open();
    const db = connections[0]!.client.db!;
    return {
      store,
      connect: (options = {}) => open(options.serializer),
      async corrupt(streamId, version) {
        const commits = db.collection<CommitDocument>('events_commits');
        const commit = await commits.findOne({
          streamId,
          firstVersion: { $lte: version },
          lastVersion: { $gte: version },
        });
        if (!commit) throw new Error(`no event ${streamId}@${version} to corrupt`);
        const events = commit.events.map((e) =>
          e.version === version ? { ...e, data: JSON.stringify({ tampered: true }) } : e,
        );
        await commits.updateOne({ _id: commit._id }, { $set: { events } });
      },
      async dispose() {
        await db.dropDatabase();
        for (const connection of connections) await connection.close();
        const keys = await clients[0]!.keys(`${ns.id}:*`);
        if (keys.length > 0) await clients[0]!.del(...keys);
        for (const client of clients) client.disconnect();
      },
    };
  },
);

describe('RedisSlotHint', () => {
  it('a hint left from a dropped database is not used for the new one (the log epoch changes)', async () => {
    const ns = testNamespace('eshintepoch');
    const redis = new Redis(ns.redisUrl);
    const connection = mongoConnection({ uri: ns.mongoUri(), name: 'epoch' });
    await connection.open();
    const hint = new RedisSlotHint(redis, { keyPrefix: `${ns.id}:` });
    const factory = new MessageFactory();
    const appendOne = async () => {
      const store = new MongoEventStore({ connection: connection.client, slotHint: hint });
      await store.init();
      const { positions } = await store.append('s-1', [factory.event('Happened', { n: 1 })], {
        expectedVersion: 'no-stream',
      });
      return positions[0]!;
    };
    try {
      expect(await appendOne()).toBe(1 * POSITIONS_PER_SLOT);
      // Raise every hint of this namespace far ahead, as if many slots had been taken …
      for (const key of await redis.keys(`${ns.id}:commit-log:*`)) await redis.set(key, '500');
      // … then drop the database: a new log starts at slot 1 again, whatever Redis says.
      await connection.client.db!.dropDatabase();
      expect(await appendOne()).toBe(1 * POSITIONS_PER_SLOT);
    } finally {
      await connection.client.db!.dropDatabase();
      await connection.close();
      const keys = await redis.keys(`${ns.id}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('keeps the highest slot raised', async () => {
    const ns = testNamespace('eshintmax');
    const redis = new Redis(ns.redisUrl);
    const hint = new RedisSlotHint(redis, { keyPrefix: `${ns.id}:` });
    try {
      expect(await hint.read('log')).toBe(0);
      await Promise.all([hint.raise('log', 7), hint.raise('log', 3), hint.raise('log', 5)]);
      expect(await hint.read('log')).toBe(7);
    } finally {
      await redis.del(`${ns.id}:commit-log:{log}`);
      redis.disconnect();
    }
  });

  it('gives one writer at a time the turn, with the hint; passing it raises the hint', async () => {
    const ns = testNamespace('eshintturn');
    const redis = new Redis(ns.redisUrl);
    const hint = new RedisSlotHint(redis, { keyPrefix: `${ns.id}:` });
    try {
      await hint.raise('log', 4);
      expect(await hint.take('log', 'a', 10_000)).toBe(4);
      expect(await hint.take('log', 'b', 10_000)).toBeUndefined();
      // Only the holder ends its turn; anyone's pass raises the hint.
      await hint.pass('log', 'b', 6);
      expect(await hint.take('log', 'b', 10_000)).toBeUndefined();
      await hint.pass('log', 'a', 9);
      expect(await hint.read('log')).toBe(9);
      expect(await hint.take('log', 'b', 50)).toBe(9);
      // A holder that died: its turn ends with its TTL.
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await hint.take('log', 'a', 10_000)).toBe(9);
    } finally {
      const keys = await redis.keys(`${ns.id}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('a writer that died holding the turn does not stall the others', async () => {
    const ns = testNamespace('eshintdead');
    const redis = new Redis(ns.redisUrl);
    const connection = mongoConnection({ uri: ns.mongoUri(), name: 'dead-turn' });
    await connection.open();
    const hint = new RedisSlotHint(redis, { keyPrefix: `${ns.id}:` });
    const factory = new MessageFactory();
    try {
      const store = new MongoEventStore({ connection: connection.client, slotHint: hint });
      await store.init();
      await store.append('s-1', [factory.event('Happened', { n: 1 })], {
        expectedVersion: 'no-stream',
      });
      // Another process takes the turn and dies: it never passes it (TTL one minute).
      for (const key of await redis.keys(`${ns.id}:commit-log:*`))
        await redis.set(`${key}:turn`, 'dead', 'PX', 60_000);
      const started = Date.now();
      for (let n = 2; n <= 4; n++)
        await store.append('s-1', [factory.event('Happened', { n })], { expectedVersion: n - 1 });
      // Each append waits for the turn a moment (100 ms), then inserts without it; stalled, each
      // would wait out the dead turn's minute. Not 3 s: three FerretDB appends took 1.4 s at
      // load 23, and CI runs every package's tests at once on two cores.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await store.readStream('s-1')).map((e) => e.version)).toEqual([1, 2, 3, 4]);
    } finally {
      await connection.client.db!.dropDatabase();
      await connection.close();
      const keys = await redis.keys(`${ns.id}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
