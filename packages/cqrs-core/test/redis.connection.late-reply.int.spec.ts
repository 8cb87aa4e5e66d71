import { StallingProxy, testNamespace } from '@causeway/testkit';
import type Redis from 'ioredis';
import { blockingReadOptions, redisConnection } from '../src/redis';

// The command timeout against a busy event loop. ioredis' timer fired in the timers phase, before
// the poll phase that reads the socket: a command whose reply had arrived in time, but was not
// read yet because the loop was busy past the timeout (a flood of requests), failed "Command
// timed out" — and the rate limiter, which fails open on a Redis error, let the request through.
describe('redisConnection command timeout with a busy event loop', () => {
  const ns = testNamespace('latereply');
  const timeoutMs = 100;

  /** Keeps the event loop busy for `ms`, as a flood of requests does. */
  function busyFor(ms: number): void {
    const until = performance.now() + ms;
    while (performance.now() < until);
  }
  /** Past the end of this tick, where the connection writes the commands it issued. */
  const written = () => new Promise((resolve) => setImmediate(resolve));

  it('answers a command whose reply arrived while the loop was busy past the timeout', async () => {
    const connection = redisConnection({ url: ns.redisUrl, commandTimeoutMs: timeoutMs });
    const key = `${ns.keyPrefix}k`;
    const { client } = connection;
    let copy: Redis | undefined;
    try {
      await connection.open();
      copy = client.duplicate(); // keeps the command timeout
      await copy.set(key, 'v');
      const replies = Promise.allSettled([
        client.get(key),
        client.pipeline().incr(`${key}:n`).get(key).exec(),
        client.eval("return redis.call('GET', KEYS[1])", 1, key),
        copy.get(key),
      ]);
      await written();
      // Redis answers within a few ms; the replies wait in the sockets, unread, past the timeout.
      busyFor(10 * timeoutMs);
      expect(await replies).toEqual([
        { status: 'fulfilled', value: 'v' },
        {
          status: 'fulfilled',
          value: [
            [null, 1],
            [null, 'v'],
          ],
        },
        { status: 'fulfilled', value: 'v' },
        { status: 'fulfilled', value: 'v' },
      ]);
    } finally {
      await connection.close(); // and the duplicate
    }
  });

  it('leaves a blocking read on a duplicate without the timeout', async () => {
    const connection = redisConnection({ url: ns.redisUrl, commandTimeoutMs: timeoutMs });
    try {
      await connection.open();
      const reader = connection.client.duplicate(
        blockingReadOptions(connection.client, 5 * timeoutMs),
      );
      reader.on('error', () => undefined);
      const startedAt = performance.now();
      expect(
        await reader.xread('BLOCK', 5 * timeoutMs, 'STREAMS', `${ns.keyPrefix}s`, '$'),
      ).toBeNull();
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(5 * timeoutMs - 5);
    } finally {
      await connection.close();
    }
  });

  // The silence timer had the same race: it fired before the socket was read, found no data
  // since the command was written, and dropped a healthy connection; ioredis then wrote the
  // commands it had not read the replies of again on the next one, and Redis ran them twice.
  it('keeps a connection whose reply arrived while the loop was busy past the silence timeout', async () => {
    const connection = redisConnection({ url: ns.redisUrl, silenceTimeoutMs: timeoutMs });
    const key = `${ns.keyPrefix}once`;
    const { client } = connection;
    let closes = 0;
    try {
      await connection.open();
      client.on('close', () => closes++);
      const incr = client.incr(key);
      await written();
      busyFor(10 * timeoutMs);
      expect(await incr).toBe(1);
      expect(await client.get(key)).toBe('1');
      expect(closes).toBe(0);
    } finally {
      await connection.close();
    }
  });

  describe('behind a proxy that stops answering', () => {
    let proxy: StallingProxy;
    let viaProxy: string;
    beforeEach(async () => {
      ({ proxy, url: viaProxy } = await StallingProxy.inFrontOf(ns.redisUrl, 6379));
    });
    afterEach(() => proxy.close());

    it('still fails a command that gets no reply, after the timeout', async () => {
      const connection = redisConnection({ url: viaProxy, commandTimeoutMs: timeoutMs });
      try {
        await connection.open();
        proxy.stall('open');
        const startedAt = performance.now();
        await expect(connection.client.get(`${ns.keyPrefix}k`)).rejects.toThrow(
          /^Command timed out$/,
        );
        const waited = performance.now() - startedAt;
        expect(waited).toBeGreaterThanOrEqual(timeoutMs - 5);
        expect(waited).toBeLessThan(timeoutMs + 500);
        // And one that got none while the loop was busy past the timeout.
        const get = connection.client.get(`${ns.keyPrefix}k`);
        await written();
        busyFor(3 * timeoutMs);
        await expect(get).rejects.toThrow(/^Command timed out$/);
      } finally {
        proxy.heal(); // let it QUIT
        await connection.close();
      }
    });
  });
});
