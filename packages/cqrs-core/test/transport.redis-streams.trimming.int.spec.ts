import Redis from 'ioredis';
import { testNamespace } from '@causeway/testkit';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import {
  RedisStreamsPublisher,
  RedisStreamsSubscriber,
  redisStreamsLag,
  StreamKeys,
  type TrimmedUnread,
} from '../src/redis';

const ns = testNamespace('trim');

/**
 * Trimming (`maxLenPerStream`) removes entries whether or not every group read them; a
 * consumer that comes back from an outage longer than its streams hold must be told.
 */
describe('Redis Streams: entries trimmed before a consumer group read them', () => {
  const client = new Redis(ns.redisUrl);
  const serializer = conformanceSerializer();

  afterAll(async () => {
    const keys = await client.keys(`${ns.keyPrefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  async function consume(topic: string, group: string, expected: number) {
    const losses: (TrimmedUnread & { topic: string })[] = [];
    const subscriber = new RedisStreamsSubscriber({
      client,
      serializer,
      keyPrefix: ns.keyPrefix,
      onTrimmed: (loss) => losses.push(loss),
    });
    const seen: number[] = [];
    await subscriber.subscribe([topic], { group, consumer: `${group}-c` }, async (delivery) => {
      seen.push((delivery.envelope.data as { n: number }).n);
    });
    const deadline = Date.now() + 10_000;
    while (seen.length < expected && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await subscriber.close();
    return { losses, seen };
  }

  async function publish(topic: string, from: number, count: number) {
    const publisher = new RedisStreamsPublisher({
      client,
      serializer,
      keyPrefix: ns.keyPrefix,
      maxLenPerStream: 100,
    });
    // One key: every message goes to one partition's stream, so its length is the survivors.
    for (let i = from; i < from + count; i += 100)
      await publisher.publish(
        topic,
        Array.from({ length: Math.min(100, from + count - i) }, (_, j) =>
          conformanceMessage(i + j, 'one-key'),
        ),
      );
  }

  async function survivors(topic: string): Promise<number> {
    const lengths = await Promise.all(
      new StreamKeys({ keyPrefix: ns.keyPrefix }).streamsOf(topic).map((s) => client.xlen(s)),
    );
    return lengths.reduce((a, b) => a + b, 0);
  }

  it('tells a group that was down how many entries it lost, and delivers the rest', async () => {
    const topic = ns.topic('outage');
    // The group exists and has read 5 entries; then its consumers stop.
    await publish(topic, 0, 5);
    const before = await consume(topic, 'billing', 5);
    expect(before.seen).toHaveLength(5);
    expect(before.losses).toEqual([]);

    await publish(topic, 5, 1_000);
    const kept = await survivors(topic);
    expect(kept).toBeLessThan(1_000);
    // Operators see it before the consumer is back: the lag gauges count the loss.
    const [row] = await redisStreamsLag(client, { keyPrefix: ns.keyPrefix }, [topic]);
    expect(row).toEqual({
      topic,
      group: 'billing',
      pending: 0,
      lag: kept,
      lagKnown: true,
      trimmed: 1_000 - kept,
    });

    const after = await consume(topic, 'billing', kept);
    expect(after.seen).toHaveLength(kept);
    const lost = after.losses.reduce((sum, loss) => sum + (loss.count ?? NaN), 0);
    expect(lost).toBe(1_000 - kept);
    expect(after.losses.every((loss) => loss.topic === topic && loss.group === 'billing')).toBe(
      true,
    );
    // Nothing lost twice: the group read past the gap, a later start reports nothing.
    expect((await consume(topic, 'billing', 0)).losses).toEqual([]);
  });

  it('counts from the start a group that never read anything before its outage', async () => {
    const topic = ns.topic('never-read');
    expect((await consume(topic, 'audit', 0)).losses).toEqual([]);
    await publish(topic, 0, 500);
    const kept = await survivors(topic);
    const after = await consume(topic, 'audit', kept);
    expect(after.losses.reduce((sum, loss) => sum + (loss.count ?? NaN), 0)).toBe(500 - kept);
  });

  it('reports nothing to a group made after the trimming (it never had those entries)', async () => {
    const topic = ns.topic('late-group');
    await publish(topic, 0, 500);
    const kept = await survivors(topic);
    const late = await consume(topic, 'newcomer', kept);
    expect(late.losses).toEqual([]);
    expect(late.seen).toHaveLength(kept);
  });

  it('says when Redis cannot tell how far a group lags (a group made at an id in the middle)', async () => {
    const topic = 'midway';
    const stream = new StreamKeys({ keyPrefix: ns.keyPrefix, partitions: 1 }).stream(
      topic,
      'normal',
      0,
    );
    for (let i = 1; i <= 5; i++) await client.xadd(stream, `${i}-0`, 'key', 'k', 'msg', '{}');
    // Redis keeps no count of the entries such a group has read: its lag is null.
    await client.xgroup('CREATE', stream, 'midway', '2-0');
    const [row] = await redisStreamsLag(client, { keyPrefix: ns.keyPrefix, partitions: 1 }, [
      topic,
    ]);
    expect(row).toMatchObject({ group: 'midway', lag: 0, lagKnown: false });
  });
});
