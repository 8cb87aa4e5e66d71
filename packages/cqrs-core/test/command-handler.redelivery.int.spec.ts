import { testNamespace } from '@causeway/testkit';
import { mongoConnection, MongoEventStore, MongoSnapshotStore } from '../src/mongodb';
import { redisConnection, RedisEventStore, RedisSnapshotStore } from '../src/redis';
import { describeCommandRedelivery } from './fixtures/command-redelivery.scenarios';

// The commandHandler redelivery scenarios (src/repository/command.handler.redelivery.unit.spec.ts
// runs them in memory) against real Redis and MongoDB-wire (FerretDB locally) stores: the
// store's idempotency rules, and the append that asks whether a command's first event is
// stored, as each backend implements them.
const redisNs = testNamespace('redeliverredis');
const redis = redisConnection({ url: redisNs.redisUrl, name: 'redelivery' });
const mongoNs = testNamespace('redelivermongo');
const mongo = mongoConnection({ uri: mongoNs.mongoUri(), name: 'redelivery', maxPoolSize: 4 });

afterAll(async () => {
  const keys = await redis.client.keys(`${redisNs.keyPrefix}*`);
  if (keys.length > 0) await redis.client.del(...keys);
  await redis.close();
  await mongo.client.db?.dropDatabase();
  await mongo.close();
});

describeCommandRedelivery('redis', async () => {
  await redis.open();
  const store = new RedisEventStore({ client: redis.client, keyPrefix: `${redisNs.keyPrefix}es:` });
  await store.init();
  const snapshots = new RedisSnapshotStore({
    client: redis.client,
    keyPrefix: `${redisNs.keyPrefix}snap:`,
  });
  return { store, snapshots };
});

describeCommandRedelivery('mongodb', async () => {
  await mongo.open();
  const store = new MongoEventStore({ connection: mongo.client });
  await store.init();
  const snapshots = new MongoSnapshotStore({ connection: mongo.client });
  await snapshots.init();
  return { store, snapshots };
});
