import Redis from 'ioredis';
import { type Envelope, topicNaming } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisStreamsPublisher } from '@causeway/cqrs-core/redis';
import { contractsSerializer, type Notification } from '@causeway/contracts';
import {
  type GroupMembers,
  MongoGroupMembers,
  MongoTrainerPositions,
  RedisGroupMembers,
  RedisNotificationLog,
  RedisTrainerPositions,
  type TrainerPositions,
} from '@causeway/platform';
import { type ServiceProcess, testNamespace, waitForStatus } from '@causeway/testkit';
import { joined, moved, startProjectionWorker, T0, until } from './projection.harness';

// projection-worker as a real process on Redis + FerretDB: read models caught up from the
// event store at start, then live from the event bus, with notifications in the NotificationLog.
// Once per READ_MODEL_STORE: redis (the default, left unset) and mongodb.
jest.setTimeout(120_000);

describe.each(['redis', 'mongodb'] as const)(
  'projection-worker on Redis + MongoDB, read models in %s',
  (store) => {
    const ns = testNamespace(`projection${store}`);
    const prefix = ns.id;
    const keyPrefix = `${prefix}:`;
    const naming = topicNaming(prefix);
    const serializer = contractsSerializer();

    let redis: Redis;
    let publisher: RedisStreamsPublisher;
    let notifications: RedisNotificationLog;
    let mongo: ReturnType<typeof mongoConnection>;
    let eventStore: MongoEventStore;
    let positions: TrainerPositions;
    let groups: GroupMembers;
    let worker: ServiceProcess | undefined;

    /** Appends to a trainer's stream and returns the stored events (what the outbox publishes). */
    async function append(trainerId: string, ...events: Envelope[]) {
      await eventStore.append(`trainer-${trainerId}`, events, { expectedVersion: 'any' });
      return (await eventStore.readStream(`trainer-${trainerId}`)).slice(-events.length);
    }

    /** Publishes stored events on the event bus as trainer-service's forwarder does. */
    async function publish(events: readonly Envelope[]): Promise<void> {
      for (const event of events) await publisher.publish(naming.event(event.type), [event]);
    }

    /** projection-worker as a real process on this namespace, once ready. */
    async function startWorker(): Promise<ServiceProcess> {
      const started = await startProjectionWorker(ns, 'projection-1', {
        // The periodic catch-up repairs lost read models; every second here, not every 30 s.
        CATCH_UP_INTERVAL_MS: '1000',
        // redis is the default: leave it unset so the default is what runs.
        ...(store === 'mongodb' ? { READ_MODEL_STORE: 'mongodb' } : {}),
      });
      await waitForStatus(`${started.url}/health/ready`, 200, 60_000);
      return started;
    }

    /** `event` as if it had been created `ms` ago. */
    const aged = (event: Envelope, ms: number): Envelope => ({
      ...event,
      metadata: { ...event.metadata, timestamp: new Date(Date.now() - ms).toISOString() },
    });

    const logged = async (): Promise<Notification[]> =>
      (await notifications.read(undefined, 1_000)).map((entry) => entry.notification);

    beforeAll(async () => {
      redis = new Redis(ns.redisUrl);
      publisher = new RedisStreamsPublisher({ client: redis, serializer, keyPrefix });
      notifications = new RedisNotificationLog({ client: redis, keyPrefix });
      mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
      await mongo.open();
      eventStore = new MongoEventStore({ connection: mongo.client, serializer });
      await eventStore.init();
      if (store === 'redis') {
        positions = new RedisTrainerPositions({ client: redis, keyPrefix });
        groups = new RedisGroupMembers({ client: redis, keyPrefix });
      } else {
        positions = new MongoTrainerPositions(mongo.client);
        groups = new MongoGroupMembers(mongo.client);
      }
    });

    afterAll(async () => {
      await worker?.stop('SIGKILL');
      await publisher?.close();
      await notifications?.close();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await mongo.client.dropDatabase();
      await mongo.close();
    });

    it('catches up events appended before it started, without notifying moves older than the horizon', async () => {
      // Older than the notification log's retention (24 h): history nobody is to be told about.
      const old = (...events: Envelope[]) => events.map((event) => aged(event, 48 * 3_600_000));
      await append(
        'ash',
        ...old(moved('ash', 1, 2), joined('ash', 'party'), moved('ash', 3, 4, true)),
      );
      await append('misty', ...old(moved('misty', 5, 6), joined('misty', 'party')));
      await append('brock', ...old(moved('brock', 7, 8)));

      worker = await startWorker();
      await waitForStatus(`${worker.url}/health/ready`, 200, 60_000);

      const ash = await until(async () => {
        const row = await positions.get('ash');
        return row?.version === 3 ? row : undefined;
      }, 'ash caught up');
      expect(ash).toMatchObject({ x: 3, y: 4, isMoving: true, dirX: 0, dirY: 1, speed: 100 });
      await until(
        async () => ((await positions.list()).length === 3 ? true : undefined),
        'three trainers',
      );
      expect(await positions.get('brock')).toMatchObject({ x: 7, y: 8, version: 1 });
      expect(await groups.membersOf('party')).toEqual(['ash', 'misty']);
      expect(await logged()).toEqual([]);
    });

    it('keeps the read models and their checkpoint in the chosen store only', async () => {
      const inRedis = async () =>
        (await redis.keys(`${keyPrefix}read-models:*`)).map((key) => key.slice(keyPrefix.length));
      const inMongo = async () =>
        (await mongo.client.db!.listCollections().toArray()).map((c) => c.name);
      if (store === 'redis') {
        // The checkpoint is saved after the catch-up: it lives with the read models.
        await until(
          async () => ((await inRedis()).includes('read-models:checkpoints') ? true : undefined),
          'the checkpoint in Redis',
        );
        expect(
          (await inMongo()).filter((name) => /positions|members|checkpoints/.test(name)),
        ).toEqual([]);
      } else {
        await until(
          async () =>
            (await inMongo()).includes('projection_worker_checkpoints') ? true : undefined,
          'the checkpoint in MongoDB',
        );
        expect(await inMongo()).toEqual(
          expect.arrayContaining(['trainer_positions', 'group_members']),
        );
        expect(await inRedis()).toEqual([]);
      }
    });

    it('keeps the read models live from the bus and notifies: broadcast without groups, group with members', async () => {
      const [brockMoved] = await append('brock', moved('brock', 10, 10, true));
      const [ashMoved] = await append('ash', moved('ash', 20, 20));
      await publish([brockMoved!, ashMoved!]);

      const notes = await until(async () => {
        const all = await logged();
        return all.length >= 2 ? all : undefined;
      }, 'two notifications');
      const byId = new Map(notes.map((note) => [note.notificationId, note]));
      expect(byId.get(`position:${brockMoved!.messageId}`)).toEqual({
        notificationId: `position:${brockMoved!.messageId}`,
        targetType: 'broadcast',
        targetIds: [],
        method: 'position.update',
        params: {
          ...{ trainerId: 'brock', x: 10, y: 10, isMoving: true, dirX: 0, dirY: 1 },
          ...{ speed: 100, startedAt: T0, version: brockMoved!.version },
        },
        serverId: 'projection-1',
      });
      expect(byId.get(`position:${ashMoved!.messageId}`)).toMatchObject({
        targetType: 'group',
        targetIds: ['party'],
        recipients: ['ash', 'misty'],
        params: { trainerId: 'ash', x: 20, y: 20, isMoving: false },
      });
      // Applied too: the live path writes the row and the notification at once, so the
      // notification can be in the log before the row shows.
      await until(
        async () =>
          (await positions.get('brock'))?.version === 2 &&
          (await positions.get('ash'))?.version === 4
            ? true
            : undefined,
        'both moves applied',
      );
      expect(await positions.get('brock')).toMatchObject({ x: 10, y: 10, version: 2 });
      expect(await positions.get('ash')).toMatchObject({ x: 20, y: 20, version: 4 });

      // A join seen live changes who the next move is addressed to.
      const [brockJoined] = await append('brock', joined('brock', 'party'));
      await publish([brockJoined!]);
      await until(
        async () => ((await groups.membersOf('party')).includes('brock') ? true : undefined),
        'brock in the party',
      );
      const [mistyMoved] = await append('misty', moved('misty', 0, 0));
      await publish([mistyMoved!]);
      const note = await until(
        async () =>
          (await logged()).find((n) => n.notificationId === `position:${mistyMoved!.messageId}`),
        'misty notified',
      );
      expect(note).toMatchObject({ targetType: 'group', recipients: ['ash', 'brock', 'misty'] });

      // A redelivered event is stored once in the log.
      await publish([mistyMoved!]);
      const [marker] = await append('gary', moved('gary', 1, 1));
      await publish([marker!]);
      // Its row too: the rebuild test below takes the rows as they are now.
      await until(
        async () =>
          (await logged()).some((n) => n.notificationId === `position:${marker!.messageId}`) &&
          (await positions.get('gary'))?.version === marker!.version
            ? true
            : undefined,
        'a later notification and its row',
      );
      const ids = (await logged()).map((n) => n.notificationId);
      expect(ids.filter((id) => id === `position:${mistyMoved!.messageId}`)).toHaveLength(1);
      // The handler is registered idempotent: no deduplication claims were made for it.
      expect(await redis.keys(`${keyPrefix}dedup:projection-worker.read-models:*`)).toEqual([]);
    });

    if (store === 'redis')
      it('rebuilds the read models from the event store when Redis lost them, while running', async () => {
        const before = {
          positions: await positions.list(),
          party: await groups.membersOf('party'),
        };
        expect(before.positions.length).toBeGreaterThanOrEqual(4);
        const keys = await redis.keys(`${keyPrefix}read-models:*`);
        expect(keys).toContain(`${keyPrefix}read-models:checkpoints`);
        await redis.del(...keys); // the read models and their checkpoint, as a flushed Redis would
        expect(await positions.list()).toEqual([]);
        // The periodic catch-up (every second here) sees its checkpoint went back and replays
        // everything.
        await until(
          async () =>
            (await positions.list()).length === before.positions.length ? true : undefined,
          'the positions rebuilt',
        );
        expect(await positions.list()).toEqual(before.positions);
        expect(await groups.membersOf('party')).toEqual(before.party);
      });

    // With the read models in MongoDB an emptied Redis takes the bus and the notification log,
    // not the read models or their checkpoint: nothing goes back, no rebuild starts, and a move
    // whose bus entry went with it is notified by the next periodic catch-up (docs/operations.md).
    if (store === 'mongodb')
      it('notifies at its next periodic catch-up a move whose bus entry an emptied Redis lost, the read models kept', async () => {
        const party = await groups.membersOf('party');
        expect(party).toEqual(['ash', 'brock', 'misty']);
        await redis.del(...(await redis.keys(`${keyPrefix}*`))); // as a flushed Redis would
        expect(await logged()).toEqual([]);
        const [lost] = await append('brock', moved('brock', 30, 30)); // never on the bus
        const note = await until(
          async () =>
            (await logged()).find((n) => n.notificationId === `position:${lost!.messageId}`),
          'the lost move notified',
        );
        // Addressed from the kept memberships: brock's group and its members.
        expect(note).toMatchObject({
          targetType: 'group',
          targetIds: ['party'],
          recipients: party,
          params: { trainerId: 'brock', x: 30, y: 30, version: lost!.version },
        });
        expect(await positions.get('brock')).toMatchObject({ x: 30, version: lost!.version });
        expect(await groups.membersOf('party')).toEqual(party);
      });

    it('notifies, once each and in order, the moves made while it was killed (kill -9, restart)', async () => {
      await worker!.stop('SIGKILL');
      worker = undefined;
      // While it is down, misty joins a new group and moves; the forwarder publishes her
      // events and trainer-service's eager path leaves them to projection-worker (its read model
      // lags the join). The restarted worker's catch-up applies them before the bus redelivers.
      const whileDown = await append(
        'misty',
        joined('misty', 'gym'),
        moved('misty', 101, 0, true),
        moved('misty', 102, 0, true),
        moved('misty', 103, 0),
      );
      await publish(whileDown);
      worker = await startWorker();
      const ids = whileDown.slice(1).map((event) => `position:${event.messageId}`);
      const notes = await until(async () => {
        const all = (await logged()).filter((n) => ids.includes(n.notificationId));
        return all.length === 3 ? all : undefined;
      }, "misty's moves notified");
      expect(notes.map((n) => n.params.x)).toEqual([101, 102, 103]);
      for (const note of notes)
        expect(note).toMatchObject({ targetType: 'group', targetIds: ['gym', 'party'] });
      // The redelivered events and the periodic catch-up (every second) add nothing.
      await publish(whileDown);
      const [marker] = await append('gary', moved('gary', 2, 2));
      await publish([marker!]);
      await until(
        async () =>
          (await logged()).some((n) => n.notificationId === `position:${marker!.messageId}`)
            ? true
            : undefined,
        'a later notification',
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const all = (await logged()).map((n) => n.notificationId);
      for (const id of ids) expect(all.filter((other) => other === id)).toHaveLength(1);
    });
  },
);
