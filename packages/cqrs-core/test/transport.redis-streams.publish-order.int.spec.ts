import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import { RedisStreamsPublisher, StreamKeys, redisConnection } from '../src/redis';

const ns = testNamespace('puborder');

/**
 * The Publisher port: a key's messages are delivered in publish order. A single message is
 * queued for a microtask (so a burst shares one socket write) while a batch's MULTI/EXEC is
 * written at once: the batch must not overtake the single published before it.
 */
describe('Redis Streams publisher: order of calls not awaited', () => {
  const plain = new Redis(ns.redisUrl);
  const autoPipelining = new Redis(ns.redisUrl, { enableAutoPipelining: true });
  const connection = redisConnection({ url: ns.redisUrl });
  const serializer = conformanceSerializer();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 1 };
  beforeAll(() => connection.open());
  afterAll(async () => {
    const keys = await plain.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await plain.del(...keys);
    plain.disconnect();
    autoPipelining.disconnect();
    await connection.close();
  });

  /** The `n` of each entry of the topic's stream, in stream order. */
  async function stored(topic: string): Promise<number[]> {
    const entries = (await plain.xrange(
      new StreamKeys(layout).stream(topic, 'normal', 0),
      '-',
      '+',
    )) as [string, string[]][];
    return entries.map(([, fields]) => {
      const wire = fields[fields.indexOf('msg') + 1]!;
      return Number(/\\"n\\":(\d+)/.exec(wire)?.[1]);
    });
  }

  it.each([
    ['a plain ioredis client', 'plain', () => plain],
    ['an ioredis client with enableAutoPipelining', 'auto', () => autoPipelining],
    ['the library connection (redisConnection)', 'library', () => connection.client],
  ])(
    "stores an aggregate's single message and the batch published right after it in call order (%s)",
    async (_, name, client) => {
      const topic = ns.topic(`order-${name}`);
      const publisher = new RedisStreamsPublisher({ ...layout, client: client(), serializer });
      await Promise.all([
        publisher.publish(topic, [conformanceMessage(1, 'order-7')]),
        publisher.publish(topic, [
          conformanceMessage(2, 'order-7'),
          conformanceMessage(3, 'order-7'),
        ]),
        publisher.publish(topic, [conformanceMessage(4, 'order-7')]),
        publisher.publish(topic, [conformanceMessage(5, 'order-7')]),
        publisher.publish(topic, [
          conformanceMessage(6, 'order-7'),
          conformanceMessage(7, 'order-7'),
        ]),
      ]);
      expect(await stored(topic)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    },
  );
});
