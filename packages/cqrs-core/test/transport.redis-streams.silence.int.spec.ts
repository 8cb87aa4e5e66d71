import { StallingProxy, testNamespace } from '@causeway/testkit';
import { type Delivery } from '../src';
import { RedisStreamsPublisher, RedisStreamsSubscriber, redisConnection } from '../src/redis';
import { conformanceMessage, conformanceSerializer } from '../src/testing';

// A consumer whose connections to Redis died without a reset (the proxy stalls the connections
// open at the time and lets new ones through; Redis is fine and the publisher reaches it).
// Until session 31 its blocking read waited for the kernel to give up on the socket: hours
// when nothing was left unacknowledged, the partition's messages unconsumed all that time.
describe('redis-streams consumer after its connections died', () => {
  const ns = testNamespace('streamsilence');
  const serializer = conformanceSerializer();
  const layout = { keyPrefix: ns.keyPrefix, partitions: 2 };
  const direct = redisConnection({ url: ns.redisUrl });
  let proxy: StallingProxy;
  let viaProxy: ReturnType<typeof redisConnection>;

  beforeAll(async () => {
    const inFront = await StallingProxy.inFrontOf(ns.redisUrl, 6379);
    proxy = inFront.proxy;
    viaProxy = redisConnection({
      url: inFront.url,
      commandTimeoutMs: 500,
      silenceTimeoutMs: 1_000,
    });
    await Promise.all([direct.open(), viaProxy.open()]);
  });
  afterAll(async () => {
    proxy.heal();
    const stale = await direct.client.keys(`${ns.keyPrefix}*`);
    if (stale.length > 0) await direct.client.del(...stale);
    await Promise.all([direct.close(), viaProxy.close()]);
    await proxy.close();
  });

  it('consumes what was published meanwhile within seconds, without a restart', async () => {
    const publisher = new RedisStreamsPublisher({ ...layout, client: direct.client, serializer });
    const subscriber = new RedisStreamsSubscriber({
      ...layout,
      client: viaProxy.client,
      serializer,
      blockMs: 1_000,
      heartbeatMs: 200,
      leaseTtlMs: 3_000,
    });
    const seen = new Set<number>();
    const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
    const until = async (check: () => boolean, what: string, withinMs: number) => {
      const deadline = Date.now() + withinMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${[...seen]}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await subscriber.subscribe(['silence'], { group: 'g', consumer: 'c' }, async (delivery) => {
        seen.add(n(delivery));
      });
      const keys = ['a', 'b', 'c', 'd'];
      await publisher.publish(
        'silence',
        keys.map((key, i) => conformanceMessage(i, key)),
      );
      await until(() => seen.size === 4, 'the first messages', 10_000);

      proxy.stall('open');
      const stalledAt = Date.now();
      await publisher.publish(
        'silence',
        keys.map((key, i) => conformanceMessage(4 + i, key)),
      );
      // The read is replaced after its BLOCK and the silence timeout; the rest is the reconnect.
      await until(() => seen.size === 8, 'the messages published meanwhile', 10_000);
      expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(Date.now() - stalledAt).toBeLessThan(8_000);
      expect(proxy.accepted).toBeGreaterThan(3); // client, command and reader connected anew
    } finally {
      await subscriber.close();
    }
  }, 30_000);
});
