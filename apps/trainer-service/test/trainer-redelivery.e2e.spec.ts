import Redis from 'ioredis';
import { type Envelope, MessageFactory } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore, MongoSnapshotStore } from '@causeway/cqrs-core/mongodb';
import { contractsSerializer } from '@causeway/contracts';
import { RedisCommandStatusStore, RedisNotificationLog } from '@causeway/platform';
import { testNamespace } from '@causeway/testkit';
import { TrainerCommandHandler } from '../src/trainer/trainer.command-handler';
import { trainerDecider } from '../src/trainer/trainer.decider';
import { TrainerStream } from '../src/trainer/trainer.stream';

// Commands that come again and stale caches (trainer.command-handler.redelivery.unit.spec.ts)
// on the real stores: MongoDB (FerretDB) event and snapshot stores, Redis status store and
// notification log. The event store accepts a copy's events at the expected version: only the
// command's status tells it was applied.
jest.setTimeout(60_000);
const ns = testNamespace('trainer-redelivery');
const keyPrefix = ns.keyPrefix;
const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const factory = new MessageFactory();
const serializer = contractsSerializer();
let redis: Redis;
let mongo: ReturnType<typeof mongoConnection>;
let store: MongoEventStore;
let snapshots: MongoSnapshotStore;
let statuses: RedisCommandStatusStore;
let notifications: RedisNotificationLog;

const cmd = (type: string, data: Record<string, unknown>, at: number): Envelope =>
  factory.command(
    type,
    { ...data, timestamp: at },
    {
      aggregateId: data.trainerId as string,
      causedBy: null,
      metadata: { issuerId: data.trainerId as string, timestamp: new Date(at).toISOString() },
    },
  );
const move = (trainerId: string, action: 'start' | 'stop', dx: number, dy: number, at: number) =>
  cmd('MoveTrainerCommand', { trainerId, action, directionX: dx, directionY: dy }, at);
const group = (trainerId: string, action: 'join' | 'leave', groupId: string, at: number) =>
  cmd('ChangeGroupCommand', { trainerId, action, groupId }, at);
const handler = (serverId: string) =>
  new TrainerCommandHandler({
    serverId,
    eventStore: store,
    snapshots,
    commandStatus: statuses,
    notifications,
    speed: 100,
    snapshotEvery: 10,
    conflictRetry: { maxAttempts: 20, initialDelayMs: 1, maxDelayMs: 5 },
  });
const replay = (trainerId: string) =>
  new TrainerStream({
    eventStore: store,
    snapshotEvery: 0,
    decider: trainerDecider({ speed: 100 }),
  })
    .repository('replay')
    .load(`trainer-${trainerId}`);

beforeAll(async () => {
  redis = new Redis(ns.redisUrl);
  statuses = new RedisCommandStatusStore(redis, { keyPrefix });
  notifications = new RedisNotificationLog({ client: redis, keyPrefix });
  mongo = mongoConnection({ uri: ns.mongoUri(), name: 'trainer-redelivery' });
  await mongo.open();
  store = new MongoEventStore({ connection: mongo.client, serializer });
  await store.init();
  snapshots = new MongoSnapshotStore({ connection: mongo.client });
});
afterAll(async () => {
  await notifications?.close();
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await mongo.client.dropDatabase();
  await mongo.close();
});

describe('TrainerCommandHandler on MongoDB and Redis: commands that come again', () => {
  it('applies a join decided where the cached trainer is stale (another instance handled a leave)', async () => {
    const [a, b] = [handler('trainer-1'), handler('trainer-2')];
    await a.handle(move('misty', 'start', 1, 0, T0));
    await a.handle(group('misty', 'join', 'party', T0 + 1));
    await b.handle(group('misty', 'leave', 'party', T0 + 2));
    const rejoin = group('misty', 'join', 'party', T0 + 3);
    await a.handle(rejoin);
    expect(await statuses.get(rejoin.messageId)).toMatchObject({ status: 'processed' });
    expect((await replay('misty')).state.trainer.groups).toEqual(['party']);
  });

  it('does not apply a join again when it comes after 32 later commands of its trainer', async () => {
    const a = handler('trainer-1');
    await a.handle(move('brock', 'start', 1, 0, T0));
    const join = group('brock', 'join', 'gym', T0 + 1);
    await a.handle(join);
    await a.handle(group('brock', 'leave', 'gym', T0 + 2));
    for (let i = 0; i < 32; i++) await a.handle(move('brock', 'stop', 0, 0, T0 + 10 + i));
    // e.g. a dead letter of the join replayed by an operator (group changes carry no deadline)
    await handler('trainer-2').handle(join);
    const events = await store.readStream('trainer-brock');
    expect(events.filter((e) => e.messageId === events[1]!.messageId)).toHaveLength(1);
    expect((await replay('brock')).state.trainer.groups).toEqual([]);
  });
});
