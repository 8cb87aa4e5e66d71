import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { DEFAULT_MAX_MESSAGE_BYTES, JsonSerializer, MessageFactory } from '../src';
import { EventForwarder } from '../src/outbox';
import {
  RedisCheckpointStore,
  RedisEventStore,
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
} from '../src/redis';
import { type Envelope } from '../src/messages/envelope';

// Store and publisher limits agree by default (session 41): an event the store accepted, just
// under the serializer's limit, used to be refused by the publisher (1 MiB + 64 KiB) for good,
// and the forwarder stopped at it.
describe('an event just under the default size limit, store → outbox → Redis Streams', () => {
  const ns = testNamespace('outbox-size');
  const client = new Redis(ns.redisUrl);
  const serializer = new JsonSerializer();
  const factory = new MessageFactory();

  afterAll(async () => {
    const keys = await client.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('is stored, forwarded and delivered whole', async () => {
    const size = (event: Envelope) =>
      Buffer.byteLength(JSON.stringify(serializer.serialize(event)));
    const empty = factory.event('Uploaded', { blob: '' });
    const blob = 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES - size(empty) - 16);
    const big = { ...empty, data: { blob } };
    expect(size(big)).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES - 100);

    const store = new RedisEventStore({ client, keyPrefix: `${ns.keyPrefix}es:`, serializer });
    await store.append('upload-1', [big], { expectedVersion: 'no-stream' });

    const topic = ns.topic('uploads');
    const publisher = new RedisStreamsPublisher({ client, serializer, keyPrefix: ns.keyPrefix });
    const subscriber = new RedisStreamsSubscriber({ client, serializer, keyPrefix: ns.keyPrefix });
    let delivered: (envelope: Envelope) => void = () => undefined;
    let failed: (error: unknown) => void = () => undefined;
    const outcome = new Promise<Envelope>((resolve, reject) => {
      delivered = resolve;
      failed = reject;
    });
    await subscriber.subscribe([topic], { group: 'g', consumer: 'c1' }, async ({ envelope }) =>
      delivered(envelope),
    );
    const forwarder = new EventForwarder({
      store,
      publisher,
      checkpoints: new RedisCheckpointStore(client, { keyPrefix: ns.keyPrefix }),
      topicOf: () => topic,
      serializer,
      onError: (error) => failed(error),
    });
    forwarder.start();
    try {
      const envelope = await outcome;
      expect(envelope.messageId).toBe(big.messageId);
      expect((envelope.data as { blob: string }).blob).toBe(blob);
    } finally {
      await forwarder.stop();
      await subscriber.close();
      await publisher.close();
    }
  });
});
