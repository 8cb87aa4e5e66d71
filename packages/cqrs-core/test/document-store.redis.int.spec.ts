import { testNamespace } from '@causeway/testkit';
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
  const raw = connection.client;
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${ns.keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
  await connection.close();
});

describeDocumentStoreConformance('redis', async () => ({ eventStore }));
