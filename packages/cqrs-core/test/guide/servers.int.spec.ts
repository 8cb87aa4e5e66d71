import {
  AggregateRepository,
  CommandBus,
  ConcurrencyConflictError,
  deadLetter,
  deduplicator,
  MessageFactory,
  retry,
  Router,
  SerializerRegistry,
  SnapshotPolicies,
  topicNaming,
} from '@causeway/cqrs-core';
import {
  MongoCheckpointStore,
  mongoConnection,
  MongoEventStore,
  MongoSnapshotStore,
} from '@causeway/cqrs-core/mongodb';
import {
  RedisDeadLetterQueue,
  RedisDeduplicationStore,
  RedisEventStore,
  RedisScript,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  redisConnection,
} from '@causeway/cqrs-core/redis';
import { testNamespace } from '@causeway/testkit';
import type Redis from 'ioredis';
import { z } from 'zod';
import { Account } from './account.domain';

async function deleteKeys(raw: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
}

const messages = new MessageFactory();

describe('guide: MongoDB', () => {
  const ns = testNamespace('guidemongo');
  const MONGODB_URI = ns.mongoUri(); // in your service: process.env.MONGODB_URI
  // #region guide:mongodb
  const mongo = mongoConnection({ uri: MONGODB_URI, name: 'accounts' });
  // #endregion
  afterAll(async () => {
    await mongo.client.db?.dropDatabase();
    await mongo.close();
  });

  it('stores events, snapshots and checkpoints', async () => {
    // #region guide:mongodb-stores
    await mongo.open();
    const eventStore = new MongoEventStore({ connection: mongo.client }); // collections events_*
    const snapshotStore = new MongoSnapshotStore({ connection: mongo.client });
    const checkpoints = new MongoCheckpointStore(mongo.client); // collection 'checkpoints'
    await eventStore.init();
    await snapshotStore.init();

    const accounts = new AggregateRepository<Account>({
      eventStore,
      aggregateType: 'Account',
      create: (id) => new Account(id),
      snapshots: {
        store: snapshotStore,
        policy: SnapshotPolicies.everyEvents(100),
        schemaVersion: 1,
      },
    });
    await accounts.update('account-acc-1', (acc) => acc.open('ada'));
    await accounts.update('account-acc-1', (acc) => acc.deposit(20));
    // #endregion
    const acc = await accounts.load('account-acc-1');
    expect(acc.state).toEqual({ open: true, balance: 20 });
    const [first, second] = await eventStore.readAll();
    expect(second!.position).toBeGreaterThan(first!.position); // increasing, not consecutive
    await checkpoints.save('balances', second!.position);
    expect(await checkpoints.load('balances')).toBe(second!.position);

    const stale = await accounts.load('account-acc-1');
    const fresh = await accounts.load('account-acc-1');
    fresh.deposit(1);
    stale.deposit(1);
    await accounts.save(fresh);
    await expect(accounts.save(stale)).rejects.toThrow(ConcurrencyConflictError);
    await eventStore.close();
  });
});

describe('guide: Redis', () => {
  const ns = testNamespace('guideredis');
  const REDIS_URL = ns.redisUrl; // in your service: process.env.REDIS_URL
  const PREFIX = ns.keyPrefix; // e.g. 'bank:'
  // #region guide:redis
  const redis = redisConnection({ url: REDIS_URL, name: 'accounts' });
  // #endregion
  afterAll(async () => {
    await deleteKeys(redis.client, PREFIX);
    await redis.close();
  });

  it('stores events', async () => {
    await redis.open();
    // #region guide:redis-event-store
    const eventStore = new RedisEventStore({ client: redis.client, keyPrefix: `${PREFIX}es:` });
    await eventStore.init();
    const event = messages.event('MoneyDeposited', { amount: 5 }, { aggregateId: 'acc-1' });
    await eventStore.append('account-acc-1', [event], { expectedVersion: 'no-stream' });
    // #endregion
    const [stored] = await eventStore.readStream('account-acc-1');
    expect(stored).toMatchObject({ messageId: event.messageId, version: 1, position: 1 });
    await eventStore.close();
  });

  it('runs a Lua script by its SHA', async () => {
    await redis.open();
    // #region guide:redis-script
    const SAVE_IF_GREATER = new RedisScript(`
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if stored and stored >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`);
    const key = `${PREFIX}checkpoints`;
    const saved = await SAVE_IF_GREATER.run(redis.client, [key], ['projection', 42]); // 1
    // #endregion
    expect(saved).toBe(1);
    expect(await SAVE_IF_GREATER.run(redis.client, [key], ['projection', 41])).toBe(0);
    expect(await redis.client.hget(key, 'projection')).toBe('42');
  });

  it('carries commands over Redis Streams', async () => {
    await redis.open();
    // #region guide:redis-streams
    const serializer = new SerializerRegistry().register(
      'Deposit',
      z.object({ amount: z.number() }),
    );
    const layout = { keyPrefix: `${PREFIX}bus:`, partitions: 4 }; // same on every process
    const publisher = new RedisStreamsPublisher({ client: redis.client, serializer, ...layout });
    const subscriber = new RedisStreamsSubscriber({ client: redis.client, serializer, ...layout });

    const router = new Router({ subscriber, service: 'accounts', instanceId: 'worker-1' });
    router.use(
      deadLetter({ queue: new RedisDeadLetterQueue(redis.client, { keyPrefix: PREFIX }) }),
      deduplicator({ store: new RedisDeduplicationStore(redis.client, { keyPrefix: PREFIX }) }),
      retry(),
    );
    const commands = new CommandBus({
      publisher,
      router,
      naming: topicNaming('bank.'),
      serializer,
      instanceId: 'worker-1',
    });
    commands.handle<{ amount: number }>('Deposit', (command) => command.data.amount * 2);
    commands.ensureRepliesSubscribed(); // optional: the first request would subscribe, and wait
    await router.run();

    const deposit = messages.command('Deposit', { amount: 21 }, { aggregateId: 'acc-1' });
    const result = await commands.request(deposit, { timeoutMs: 10_000 }); // 42
    // #endregion
    expect(result).toBe(42);
    await router.close();
    commands.close();
    await subscriber.close();
    await publisher.close();
  });
});
