import Redis from 'ioredis';
import {
  DeferredError,
  type Envelope,
  JsonSerializer,
  MessageFactory,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisCheckpointStore } from '@causeway/cqrs-core/redis';
import { contractsSerializer, type TrainerMovedEvent } from '@causeway/contracts';
import {
  PositionNotifier,
  RedisGroupMembers,
  RedisNotificationLog,
  RedisTrainerPositions,
} from '@causeway/platform';
import { testNamespace } from '@causeway/testkit';
import { ProjectionRunner } from './projection.runner';

// The runner over the real event store (MongoDB wire: FerretDB here), Redis read models,
// checkpoint and notification log (ADR 007, session 9): a trainer changes group while
// projection-worker is down, the restarted worker catches up from the store, then the bus
// redelivers what it held. Each move must reach the log once, and a
// trainer's moves must stay in order whichever path (eager or projection) appends them.
jest.setTimeout(30_000);

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number) =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: Date.now(),
  });
const joined = (trainerId: string, groupId: string) =>
  factory.event('TrainerJoinedGroupEvent', { trainerId, groupId, timestamp: Date.now() });

describe('ProjectionRunner on MongoDB and Redis, after an outage', () => {
  const ns = testNamespace('runner');
  const mongo = mongoConnection({ uri: ns.mongoUri(), name: 'runner-spec' });
  let redis: Redis;
  let keyPrefix: string;
  let eventStore: MongoEventStore;
  let groups: RedisGroupMembers;
  let notifications: RedisNotificationLog;
  let n = 0;

  beforeAll(async () => {
    redis = new Redis(ns.redisUrl);
    await mongo.open();
  });
  beforeEach(async () => {
    keyPrefix = `${ns.keyPrefix}${(n += 1)}:`;
    // Each test its own collections: the catch-up reads the whole log.
    eventStore = new MongoEventStore({
      connection: mongo.client,
      collectionPrefix: `t${n}_`,
      serializer: contractsSerializer(),
    });
    await eventStore.init();
    groups = new RedisGroupMembers({ client: redis, keyPrefix });
    notifications = new RedisNotificationLog({ client: redis, keyPrefix });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await mongo.client.dropDatabase();
    await mongo.close();
  });

  /** A worker incarnation over the shared stores. */
  const worker = (options: Partial<ConstructorParameters<typeof ProjectionRunner>[0]> = {}) =>
    new ProjectionRunner({
      serverId: 'projection-1',
      eventStore,
      positions: new RedisTrainerPositions({ client: redis, keyPrefix }),
      groups,
      notifications,
      checkpoints: new RedisCheckpointStore(redis, `${keyPrefix}read-models:checkpoints`),
      catchUpIntervalMs: 0,
      ...options,
    });
  const append = async (trainerId: string, ...events: Envelope[]): Promise<StoredEvent[]> => {
    await eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
    return (await eventStore.readStream(`trainer-${trainerId}`)).slice(-events.length);
  };
  /** Positions (x) of ash's position.updates, in log order. */
  const ashMoves = async () =>
    (await notifications.read(undefined, 1_000))
      .map((entry) => entry.notification)
      .filter((note) => note.method === 'position.update' && note.params.trainerId === 'ash')
      .map((note) => note.params.x as number);

  /** ash and misty in `party`, a worker running; it dies; ash joins `gym` and moves meanwhile. */
  async function outage() {
    const first = worker();
    await first.start();
    for (const event of [
      ...(await append('misty', joined('misty', 'party'), joined('misty', 'gym'))),
      ...(await append('ash', joined('ash', 'party'), moved('ash', 0))),
    ])
      await first.handle(event);
    await first.stop(); // kill -9: nothing more from it
    // trainer-service's eager path finds the read model without the join: it appends nothing.
    const eager = new PositionNotifier(groups, notifications, 'trainer-1');
    expect(await eager.audienceOf('ash', ['gym', 'party'])).toBeUndefined();
    const whileDown = await append('ash', joined('ash', 'gym'), moved('ash', 1), moved('ash', 2));
    return { whileDown, eager, restarted: worker() };
  }

  it('notifies the moves made while it was down once, to the new group, after its catch-up applied them', async () => {
    const { whileDown, restarted } = await outage();
    await restarted.start();
    for (const event of [...whileDown, ...whileDown]) await restarted.handle(event);
    expect(await ashMoves()).toEqual([0, 1, 2]);
    const last = (await notifications.read(undefined, 1_000)).at(-1);
    expect(last!.notification).toMatchObject({
      targetType: 'group',
      targetIds: ['gym', 'party'],
      recipients: ['ash', 'misty'],
    });
    await restarted.stop();
  });

  it('never lets a move held back during the catch-up arrive after a newer eager one', async () => {
    const { whileDown, eager, restarted } = await outage();
    await restarted.start(); // applies the join: the eager path finds its audience again
    const heldBack = await append('ash', moved('ash', 3), moved('ash', 4));
    const [newer] = await append('ash', moved('ash', 5));
    const audience = await eager.audienceOf('ash', ['gym', 'party']);
    expect(audience).toBeDefined();
    await eager.notifyEarly(newer!.messageId, newer!.data as TrainerMovedEvent, audience!, {
      version: newer!.version,
      previous: newer!.version - 1,
    });
    for (const event of [...whileDown, ...heldBack, newer!]) await restarted.handle(event);
    expect(await ashMoves()).toEqual([0, 1, 2, 3, 4, 5]);
    await restarted.stop();
  });

  it('goes live past an event the store cannot decode, once its attempts are spent', async () => {
    // A producer that skipped the schema appended a move without a position.
    const lax = new MongoEventStore({
      connection: mongo.client,
      collectionPrefix: `t${n}_`,
      serializer: new JsonSerializer(),
    });
    await lax.init();
    await lax.append(
      'trainer-gary',
      [factory.event('TrainerMovedEvent', { trainerId: 'gary', movement: still } as never)],
      { expectedVersion: 'any' },
    );
    await append('misty', moved('misty', 7));
    const runner = worker({ maxAttempts: 1 });
    await runner.start(); // one failed catch-up, a backoff, then the next goes past it
    expect(runner.isCaughtUp).toBe(true);
    const positions = new RedisTrainerPositions({ client: redis, keyPrefix });
    expect(await positions.get('misty')).toMatchObject({ x: 7 });
    // The live path is open: a move from the bus reaches the read model.
    const [live] = await append('misty', moved('misty', 8));
    await runner.handle(live!);
    expect(await positions.get('misty')).toMatchObject({ x: 8 });
    await runner.stop();
  });

  it('defers a live move once Redis lost the read models and rebuilds them at once, not at the next interval', async () => {
    await append('misty', joined('misty', 'party'));
    await append('ash', joined('ash', 'party'), moved('ash', 0));
    const lost: unknown[] = [];
    // No timer (catchUpIntervalMs 0): a rebuild that comes at all was started by the loss.
    const runner = worker({ onLost: (loss) => lost.push(loss) });
    await runner.start();
    expect(await groups.membersOf('party')).toEqual(['ash', 'misty']);
    // Redis loses everything under this test's prefix: read models, checkpoint, log (a FLUSHALL).
    await redis.del(...(await redis.keys(`${keyPrefix}*`)));
    const [live] = await append(
      'ash',
      factory.event('TrainerMovedEvent', {
        trainerId: 'ash',
        position: { x: 9, y: 0 },
        movement: still,
        timestamp: Date.now(),
        groups: ['party'],
      }),
    );
    const startedAt = Date.now();
    /** ash's x = 9 moves in the log, as their recipients. */
    const move9 = async () =>
      (await notifications.read(undefined, 1_000))
        .map((entry) => entry.notification)
        .filter((note) => note.method === 'position.update' && note.params.x === 9)
        .map((note) => note.recipients);
    try {
      const first = await runner.handle(live!).then(
        () => undefined,
        (error: unknown) => error,
      );
      // Never addressed to the empty GroupMembers: only to the group with its member.
      expect((await move9()).filter((recipients) => !recipients?.includes('misty'))).toEqual([]);
      expect(first).toBeInstanceOf(DeferredError);
      expect(lost).toEqual([
        expect.objectContaining({ found: 0, noticedBy: 'a live TrainerMovedEvent' }),
      ]);
      // The rebuild starts now, not at an interval (there is none): the bus's redelivery then
      // goes through. No bound tighter than a rebuild from FerretDB on a loaded machine.
      for (;;) {
        if (runner.isCaughtUp && (await groups.membersOf('party')).length === 2) break;
        if (Date.now() - startedAt > 20_000) throw new Error('no rebuild after the loss');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await runner.handle(live!);
      expect(await move9()).toEqual([['ash', 'misty']]);
      expect(lost).toHaveLength(1);
    } finally {
      await runner.stop();
    }
  });

  it('rebuilds the read models when Redis comes back empty while a catch-up reads the store', async () => {
    await append('misty', joined('misty', 'party'), moved('misty', 5));
    let loseRedis = false;
    // The real store; Redis loses everything (a restart without persistence) during one read.
    const store = Object.create(eventStore) as MongoEventStore;
    store.readAllPage = async (options) => {
      const page = await eventStore.readAllPage(options);
      if (loseRedis) {
        const keys = await redis.keys(`${keyPrefix}*`);
        await redis.del(...keys);
        loseRedis = false; // lost, before the catch-up goes on
      }
      return page;
    };
    const runner = worker({ eventStore: store, catchUpIntervalMs: 50 });
    await runner.start();
    await append('ash', moved('ash', 1));
    loseRedis = true;
    const positions = new RedisTrainerPositions({ client: redis, keyPrefix });
    const poll = async (done: () => Promise<boolean> | boolean, what: string) => {
      const deadline = Date.now() + 30_000; // a rebuild from FerretDB, on a loaded machine
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await poll(() => !loseRedis, 'Redis to be emptied during the catch-up');
    // A periodic catch-up after it finds the checkpoint gone back and rebuilds misty's state.
    await poll(async () => (await positions.get('misty')) !== undefined, "misty's rebuilt row");
    await runner.stop();
    expect(loseRedis).toBe(false);
    expect(await positions.get('misty')).toMatchObject({ x: 5 });
    expect(await groups.membersOf('party')).toEqual(['misty']);
  });
});
