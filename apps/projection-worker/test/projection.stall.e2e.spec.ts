import Redis from 'ioredis';
import { type Envelope, topicNaming } from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { RedisStreamsPublisher } from '@causeway/cqrs-core/redis';
import { contractsSerializer } from '@causeway/contracts';
import { MongoTrainerPositions, RedisNotificationLog } from '@causeway/platform';
import {
  removeNamespaceData,
  type ServiceProcess,
  StallingProxy,
  testNamespace,
  waitForStatus,
} from '@causeway/testkit';
import { moved, startProjectionWorker, until } from './projection.harness';

// projection-worker with its read models in MongoDB, whose network path stalls (no reset, the
// bytes wait, as a lost host or a NAT that forgot the connection) while moves arrive on the bus.
jest.setTimeout(120_000);

describe('projection-worker while the path to MongoDB stalls', () => {
  const ns = testNamespace('projstall');
  const prefix = ns.id;
  const keyPrefix = `${prefix}:`;
  const naming = topicNaming(prefix);
  const serializer = contractsSerializer();

  let redis: Redis;
  let publisher: RedisStreamsPublisher;
  let notifications: RedisNotificationLog;
  let mongo: ReturnType<typeof mongoConnection>;
  let eventStore: MongoEventStore;
  let positions: MongoTrainerPositions;
  let proxy: StallingProxy;
  let worker: ServiceProcess | undefined;

  /** Appends to the trainer's stream and publishes the stored events, as trainer-service does. */
  async function moveAndPublish(trainerId: string, ...xs: number[]): Promise<Envelope[]> {
    const streamId = `trainer-${trainerId}`;
    await eventStore.append(
      streamId,
      xs.map((x) => moved(trainerId, x, 0)),
      { expectedVersion: 'any' },
    );
    const stored = (await eventStore.readStream(streamId)).slice(-xs.length);
    for (const event of stored) await publisher.publish(naming.event(event.type), [event]);
    return stored;
  }

  const notified = async (events: readonly Envelope[]) => {
    const ids = new Set(events.map((event) => `position:${event.messageId}`));
    return (await notifications.read(undefined, 1_000))
      .map((entry) => entry.notification)
      .filter((note) => ids.has(note.notificationId));
  };

  beforeAll(async () => {
    redis = new Redis(ns.redisUrl);
    publisher = new RedisStreamsPublisher({ client: redis, serializer, keyPrefix });
    notifications = new RedisNotificationLog({ client: redis, keyPrefix });
    // The test's own connection goes straight to MongoDB; the worker's through the proxy.
    mongo = mongoConnection({ uri: ns.mongoUri(), name: 'verifier' });
    await mongo.open();
    eventStore = new MongoEventStore({ connection: mongo.client, serializer });
    await eventStore.init();
    positions = new MongoTrainerPositions(mongo.client);
    const proxied = await StallingProxy.inFrontOf(ns.mongoUri(), 27017);
    proxy = proxied.proxy;
    worker = await startProjectionWorker(ns, 'projection-stall', {
      MONGODB_URI: proxied.url,
      MONGODB_SILENCE_TIMEOUT_MS: '1500',
      READ_MODEL_STORE: 'mongodb',
      CATCH_UP_INTERVAL_MS: '1000',
    });
    await waitForStatus(`${worker.url}/health/ready`, 200, 60_000);
  });

  afterAll(async () => {
    proxy?.heal();
    await worker?.stop('SIGKILL');
    await proxy?.close();
    await publisher?.close();
    await notifications?.close();
    redis.disconnect();
    await mongo.close();
    await removeNamespaceData(ns, ['mongodb', 'redis']);
  });

  it('says so in its readiness, then applies and notifies what arrived meanwhile, once each and in order', async () => {
    const before = await moveAndPublish('ash', 1);
    // Applied and notified: the live path writes both at once, so the row may show before the
    // notification is in the log (reading the log right after the row was a race).
    await until(
      async () =>
        (await positions.get('ash'))?.version === 1 && (await notified(before)).length > 0
          ? true
          : undefined,
      'the first move applied and notified',
    );
    expect(await notified(before)).toHaveLength(1);

    proxy.stall();
    const during = [
      ...(await moveAndPublish('ash', 2)),
      ...(await moveAndPublish('misty', 10)),
      ...(await moveAndPublish('ash', 3, 4)),
    ];
    // Not ready, naming MongoDB, while the path is stalled.
    const answer = await waitForStatus(`${worker!.url}/health/ready`, 503, 30_000);
    expect(JSON.stringify(await answer.json())).toContain('mongodb');
    expect(await positions.get('ash')).toMatchObject({ version: 1 });
    proxy.heal();

    await waitForStatus(`${worker!.url}/health/ready`, 200, 60_000);
    await until(async () => {
      const [ash, misty] = [await positions.get('ash'), await positions.get('misty')];
      return ash?.version === 4 && misty?.version === 1 ? true : undefined;
    }, 'the moves made during the stall applied');
    expect(await positions.get('ash')).toMatchObject({ x: 4, version: 4 });
    expect(await positions.get('misty')).toMatchObject({ x: 10, version: 1 });
    const notes = await until(async () => {
      const found = await notified(during);
      return found.length >= during.length ? found : undefined;
    }, 'the moves made during the stall notified');
    // Once each: redeliveries and the periodic catch-up add nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const all = await notified(during);
    expect(all.map((note) => note.notificationId).sort()).toEqual(
      during.map((event) => `position:${event.messageId}`).sort(),
    );
    // In order per trainer.
    const ashXs = notes
      .filter((note) => note.params.trainerId === 'ash')
      .map((note) => note.params.x);
    expect(ashXs).toEqual([2, 3, 4]);
  });
});
