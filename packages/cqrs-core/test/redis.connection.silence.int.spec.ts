import { StallingProxy, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { blockingReadOptions, redisConnection } from '../src/redis';

// A connection whose network path died without a reset (a peer gone, a NAT or load balancer
// that forgot it) gets no error and no close: the kernel keeps the socket for many minutes
// (15 with bytes unacknowledged, hours without). Redis itself is fine, and a new connection
// would work. The proxy stalls the connections open at the time and lets new ones through.
describe('redisConnection replaces a connection that went silent', () => {
  const ns = testNamespace('silence');
  let proxy: StallingProxy;
  let viaProxy: string;
  let direct: Redis;

  beforeEach(async () => {
    ({ proxy, url: viaProxy } = await StallingProxy.inFrontOf(ns.redisUrl, 6379));
    direct = new Redis(ns.redisUrl);
  });
  afterEach(async () => {
    direct.disconnect();
    await proxy.close();
  });

  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** Runs `attempt` every 100 ms until it resolves; fails after `withinMs`. */
  async function eventually<T>(withinMs: number, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await delay(100);
      }
    }
  }

  it('commands work again soon after the silence timeout, not after the kernel gives up', async () => {
    const connection = redisConnection({
      url: viaProxy,
      commandTimeoutMs: 300,
      silenceTimeoutMs: 1_500,
    });
    const key = `${ns.keyPrefix}k`;
    try {
      await connection.open();
      await connection.client.set(key, 'before');
      proxy.stall('open');
      await expect(connection.client.get(key)).rejects.toThrow(/timed out/);
      const startedAt = Date.now();
      await direct.set(key, 'after');
      expect(await eventually(6_000, () => connection.client.get(key))).toBe('after');
      // It waited for the silence timeout, then connected anew through the proxy.
      expect(Date.now() - startedAt).toBeGreaterThan(800);
      expect(proxy.accepted).toBe(2);
      await expect(connection.check()).resolves.toBeUndefined();
    } finally {
      await connection.close();
    }
  }, 20_000);

  it('a healthy connection idle far longer than the silence timeout is kept', async () => {
    const connection = redisConnection({ url: viaProxy, silenceTimeoutMs: 300 });
    try {
      await connection.open();
      await delay(1_000);
      await connection.client.ping();
      expect(proxy.accepted).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('a blocking read is allowed its BLOCK time, and is replaced when it overstays', async () => {
    const connection = redisConnection({ url: viaProxy, silenceTimeoutMs: 500 });
    const stream = `${ns.keyPrefix}s`;
    try {
      await connection.open();
      // Ended by connection.close(), with every connection duplicated from the client.
      const reader = connection.client.duplicate(blockingReadOptions(connection.client, 1_500));
      reader.on('error', () => undefined);
      // A read that blocks three times the silence timeout returns normally.
      expect(await reader.xread('BLOCK', 1_500, 'STREAMS', stream, '$')).toBeNull();
      expect(proxy.accepted).toBe(2);
      proxy.stall('open');
      const read = reader.xread('BLOCK', 1_500, 'STREAMS', stream, '0');
      await direct.xadd(stream, '*', 'n', '1');
      // Unanswered past BLOCK + the silence timeout: dropped, connected anew, and the read sent
      // again on the new connection (ioredis resends what was unanswered).
      const reply = (await read) as [string, [string, string[]][]][];
      expect(reply[0]![1].map(([, fields]) => fields)).toEqual([['n', '1']]);
      expect(proxy.accepted).toBe(3);
    } finally {
      proxy.heal(); // the client's own connection was stalled too: let it QUIT
      await connection.close();
    }
  }, 20_000);
});
