import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { redisConnection, RedisEventStore } from '../src/redis';
import { describeDocumentStoreConformance } from '../src/testing';

// The document store (S4) over the Redis event store on a real Redis: the change and its events
// are one script call. Every key of this file lives under its own prefix.
const ns = testNamespace('docsredis');
const connection = redisConnection({ url: ns.redisUrl, name: 'documents' });
let eventStore: RedisEventStore;

beforeAll(async () => {
  await connection.open();
  eventStore = new RedisEventStore({ client: connection.client, keyPrefix: ns.keyPrefix });
  await eventStore.init();
});
afterAll(async () => {
  await connection.close();
  await removeNamespaceData(ns, ['redis']);
});

describeDocumentStoreConformance('redis', async () => ({ eventStore }));
