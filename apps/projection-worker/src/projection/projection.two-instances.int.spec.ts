import Redis from 'ioredis';
import {
  DeferredError,
  type Envelope,
  MessageFactory,
  type StoredEvent,
} from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisCheckpointStore } from '@causeway/cqrs-core/redis';
import { contractsSerializer } from '@causeway/contracts';
import { RedisGroupMembers, RedisNotificationLog, RedisTrainerPositions } from '@causeway/platform';
import { testNamespace } from '@causeway/testkit';
import { type CatchUpProgress } from './read-models.catch-up';
import { ProjectionRunner } from './projection.runner';

// Two projection-worker instances share the read models, their checkpoint, the rebuild mark and
// the notification log (one Redis). Redis loses them; instance A starts the rebuild and is
// killed part-way (a rolling deploy); instance B, running all along, has not noticed the loss:
// the checkpoint A's rebuild saved is not below B's. B must not take the unfinished rebuild for
// caught-up read models (session 37).
jest.setTimeout(30_000);

const factory = new MessageFactory();
const still = { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 };
const moved = (trainerId: string, x: number, groups?: string[]) =>
  factory.event('TrainerMovedEvent', {
    trainerId,
    position: { x, y: 0 },
    movement: still,
    timestamp: Date.now(),
    ...(groups && { groups }),
  });
const joined = (trainerId: string, groupId: string) =>
  factory.event('TrainerJoinedGroupEvent', { trainerId, groupId, timestamp: Date.now() });

describe('Two ProjectionRunner instances on MongoDB and Redis, across a rebuild', () => {
  const ns = testNamespace('two-runners');
  const mongo = mongoConnection({ uri: ns.mongoUri(), name: 'two-runners-spec' });
  let redis: Redis;
  let keyPrefix: string;
  let eventStore: MongoEventStore;
  let n = 0;
  const runners: ProjectionRunner[] = [];

  beforeAll(async () => {
    redis = new Redis(ns.redisUrl);
    await mongo.open();
  });
  beforeEach(async () => {
    keyPrefix = `${ns.keyPrefix}${(n += 1)}:`;
    eventStore = new MongoEventStore({
      connection: mongo.client,
      collectionPrefix: `t${n}_`,
      serializer: contractsSerializer(),
    });
    await eventStore.init();
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  });
  afterAll(async () => {
    const keys = await redis.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await mongo.client.dropDatabase();
    await mongo.close();
  });

  const positions = () => new RedisTrainerPositions({ client: redis, keyPrefix });
  const groups = () => new RedisGroupMembers({ client: redis, keyPrefix });
  const notifications = () => new RedisNotificationLog({ client: redis, keyPrefix });
  /** An instance over the shared Redis (its own clients' wrappers, as a process has). */
  const instance = (
    serverId: string,
    options: Partial<ConstructorParameters<typeof ProjectionRunner>[0]> = {},
  ) => {
    const runner = new ProjectionRunner({
      serverId,
      eventStore,
      positions: positions(),
      groups: groups(),
      notifications: notifications(),
      checkpoints: new RedisCheckpointStore(redis, `${keyPrefix}read-models:checkpoints`),
      catchUpIntervalMs: 0,
      ...options,
    });
    runners.push(runner);
    return runner;
  };
  const append = async (trainerId: string, ...events: Envelope[]): Promise<StoredEvent[]> => {
    await eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
    return (await eventStore.readStream(`trainer-${trainerId}`)).slice(-events.length);
  };
  const until = async (done: () => Promise<boolean> | boolean, what: string) => {
    const deadline = Date.now() + 20_000; // a rebuild from FerretDB on a loaded machine
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  /**
   * misty and ash in `party`; B starts (its checkpoint: after them). brock joins `party` and
   * moves; B applies that live (the bus gave it to B; B's periodic run has not come: the tests
   * start it with catchUpNow, B has no timer). Redis loses everything under the prefix; A
   * starts, rebuilds, and is killed right after it applied ash's move: its rebuild saved a
   * checkpoint at B's, and left the mark.
   */
  async function lossWhileBehind(b: ProjectionRunner) {
    await append('misty', joined('misty', 'party'));
    const [lastSeenByB] = await append('ash', joined('ash', 'party'), moved('ash', 1)).then((e) =>
      e.slice(-1),
    );
    await b.start();
    for (const event of await append('brock', joined('brock', 'party'), moved('brock', 7)))
      await b.handle(event);
    expect(await groups().membersOf('party')).toEqual(['ash', 'brock', 'misty']);
    await redis.del(...(await redis.keys(`${keyPrefix}*`)));

    // A's TrainerPositions: the real one; A is killed (stop: kill -9 semantics) as it applies
    // the last event B's checkpoint covers.
    const real = positions();
    const killedAt = Object.create(real) as RedisTrainerPositions;
    killedAt.apply = async (row) => {
      const changed = await real.apply(row);
      if (row.trainerId === 'ash') void a.stop();
      return changed;
    };
    const a = instance('projection-a', { positions: killedAt });
    await a.start();
    await a.stop();
    const checkpoints = new RedisCheckpointStore(redis, `${keyPrefix}read-models:checkpoints`);
    expect(await checkpoints.load('projection-worker.read-models')).toBe(lastSeenByB!.position);
    expect(await groups().membersOf('party')).toEqual(['ash', 'misty']);
  }

  it("finishes the other instance's unfinished rebuild in its periodic run, not skipping what it had applied", async () => {
    const runs: CatchUpProgress[] = [];
    // No timer: B's periodic run comes when the test calls it (catchUpNow), after the set-up,
    // however long that takes on a loaded machine; one during it would catch up before A's
    // rebuild, and the test would not test the periodic run finding A's mark.
    const b = instance('projection-b', { onProgress: (progress) => runs.push(progress) });
    await lossWhileBehind(b);
    expect(runs).toHaveLength(1); // B's first catch-up only
    await b.catchUpNow();
    expect(runs).toHaveLength(2);
    expect(runs.at(-1)).toMatchObject({ caughtUp: true, rebuilding: true });
    // A comes back (the deploy's new process): the mark says "rebuild unfinished".
    const a2 = instance('projection-a');
    await a2.start();
    await until(() => b.isCaughtUp, 'B to be caught up');
    // brock's join and move are in the read models again: its group's moves reach it, and
    // /api/positions shows it.
    expect(await groups().membersOf('party')).toEqual(['ash', 'brock', 'misty']);
    expect(await positions().get('brock')).toMatchObject({ x: 7 });
  });

  it('defers a live move while the rebuild is unfinished, and notifies it to the whole group once rebuilt', async () => {
    const lost: unknown[] = [];
    // No periodic run (catchUpIntervalMs 0): only the live event's loss starts B's rebuild.
    const b = instance('projection-b', { onLost: (loss) => lost.push(loss) });
    await lossWhileBehind(b);
    const [live] = await append('misty', moved('misty', 3, ['party']));
    const first = await b.handle(live!).then(
      () => undefined,
      (error: unknown) => error,
    );
    const recipients = async () =>
      (await notifications().read(undefined, 1_000))
        .map((entry) => entry.notification)
        .filter((note) => note.params.trainerId === 'misty')
        .map((note) => note.recipients);
    // Never addressed to the half-rebuilt group: brock would never get this move.
    expect(await recipients()).toEqual([]);
    expect(first).toBeInstanceOf(DeferredError);
    expect(lost).toEqual([expect.objectContaining({ noticedBy: 'a live TrainerMovedEvent' })]);
    await until(() => b.isCaughtUp, 'B to finish the rebuild');
    await b.handle(live!); // the bus's redelivery
    expect(await recipients()).toEqual([['ash', 'brock', 'misty']]);
    expect(await positions().get('brock')).toMatchObject({ x: 7 });
  });
});
