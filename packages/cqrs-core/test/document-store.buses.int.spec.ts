import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { kafkaConnection, KafkaPublisher, KafkaSubscriber } from '../src/kafka';
import { mongoConnection, MongoEventStore } from '../src/mongodb';
import { redisConnection, RedisStreamsPublisher, RedisStreamsSubscriber } from '../src/redis';
import { documentsOnBus, documentsSerializer, EXPECTED_ON_BUS } from './fixtures/documents-on-bus';

// S4-5 on the real servers: documents stored in MongoDB (FerretDB locally) reach subscribers of
// Redis Streams and of Kafka through the outbox forwarder, every change with its events, in
// order per document.
const ns = testNamespace('docsbus');
const mongo = mongoConnection({ uri: ns.mongoUri(), name: 'documents-bus' });
const serializer = documentsSerializer();
let eventStore: MongoEventStore;

beforeAll(async () => {
  await mongo.open();
  eventStore = new MongoEventStore({ connection: mongo.client, serializer });
  await eventStore.init();
});
afterAll(async () => {
  await mongo.close();
  await removeNamespaceData(ns); // the database, the Redis keys and the Kafka topic
});

it('reaches a Redis Streams subscriber', async () => {
  const redis = redisConnection({ url: ns.redisUrl, name: 'documents-bus' });
  await redis.open();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 4, client: redis.client, serializer };
  const publisher = new RedisStreamsPublisher(layout);
  const subscriber = new RedisStreamsSubscriber({ ...layout, blockMs: 100 });
  try {
    const seen = await documentsOnBus({ eventStore, publisher, subscriber, topic: 'users' });
    expect(seen).toEqual(EXPECTED_ON_BUS);
  } finally {
    await subscriber.close();
    await publisher.close();
    await redis.close();
  }
});

it('reaches a Kafka subscriber', async () => {
  const kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('documents') });
  await kafka.open();
  const options = {
    serializer,
    partitions: 3,
    groupIdPrefix: `${ns.id}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    maxWaitTimeMs: 100,
  };
  const publisher = new KafkaPublisher(kafka.client, options);
  const subscriber = new KafkaSubscriber(kafka.client, options);
  try {
    const seen = await documentsOnBus({
      eventStore,
      publisher,
      subscriber,
      topic: ns.name('users'),
      timeoutMs: 30_000,
    });
    expect(seen).toEqual(EXPECTED_ON_BUS);
  } finally {
    await subscriber.close();
    await publisher.close();
    await kafka.close();
  }
}, 60_000);
