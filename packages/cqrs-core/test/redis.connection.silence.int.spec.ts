import { StallingProxy, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { createHook } from 'node:async_hooks';
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

  // ioredis started a timer (and a 'data' listener) for every command written while none ran,
  // and cleared it at its reply: about a tenth of an awaited round trip (session 43).
  it('awaited commands one after another start no timer each', async () => {
    const connection = redisConnection({ url: viaProxy, silenceTimeoutMs: 10_000 });
    let timers = 0;
    const hook = createHook({
      init: (_id, type) => {
        if (type === 'Timeout' && startedByTheClient()) timers++;
      },
    });
    try {
      await connection.open();
      hook.enable();
      for (let i = 0; i < 100; i++) await connection.client.ping();
      hook.disable();
      expect(timers).toBeLessThanOrEqual(1);
    } finally {
      hook.disable();
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

/**
 * Whether the timer being created comes from ioredis or the connection's own code: Jest's
 * reporters start timers of their own meanwhile when test files run in parallel.
 */
function startedByTheClient(): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return /\/ioredis\/|\/src\/redis\/redis\.connection\.ts/.test(stack);
}

// ioredis starts the silence timer when it writes a command and stops it when data arrives. A
// socket that closed first (a dropped connection, close()) left the timer running.
describe('redisConnection after a connection dropped with a command unanswered', () => {
  const ns = testNamespace('silencedrop');
  let admin: Redis;
  beforeEach(async () => {
    admin = new Redis(ns.redisUrl);
    await admin.ping(); // connected: its connect timer is not counted below
  });
  afterEach(() => admin.disconnect());

  /** A BLPOP in flight on `client` when Redis drops its connection; resolves once it is back. */
  async function dropWithReadInFlight(client: Redis): Promise<void> {
    const id = (await client.client('ID')) as number;
    const read = client.blpop(`${ns.keyPrefix}nothing`, 0.5).catch(() => null);
    const ready = new Promise((resolve) => client.once('ready', resolve));
    await admin.client('KILL', 'ID', String(id));
    await ready;
    await read;
  }

  it('close() leaves no timer behind: the process can exit at once', async () => {
    const connection = redisConnection({
      url: ns.redisUrl,
      silenceTimeoutMs: 30_000,
      maxReconnectDelayMs: 50,
    });
    // The timers started from here on, still pending after close() (cleared or fired ones are
    // marked destroyed by Node).
    const started: { hasRef(): boolean; _destroyed?: boolean }[] = [];
    const hook = createHook({
      init: (_id, type, _trigger, resource) => {
        if (type === 'Timeout' && startedByTheClient())
          started.push(resource as (typeof started)[number]);
      },
    });
    try {
      await connection.open();
      hook.enable();
      await dropWithReadInFlight(connection.client);
      await connection.close();
    } finally {
      hook.disable();
    }
    // Without the fix, the silence timer of the dropped socket kept the process alive for up
    // to silenceTimeoutMs after close().
    expect(started.filter((timer) => !timer._destroyed && timer.hasRef()).length).toBe(0);
  });

  it('the new connection is not dropped by the silence timer of the one that dropped', async () => {
    const connection = redisConnection({
      url: ns.redisUrl,
      silenceTimeoutMs: 1_000,
      maxReconnectDelayMs: 50,
    });
    let closes = 0;
    try {
      await connection.open();
      connection.client.on('close', () => closes++);
      await dropWithReadInFlight(connection.client);
      expect(closes).toBe(1);
      // Past the silence timeout of the read written on the dropped socket: the healthy new
      // socket stays (without the fix, that stale timer destroyed it).
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(closes).toBe(1);
      await expect(connection.client.ping()).resolves.toBe('PONG');
    } finally {
      await connection.close();
    }
  });
});
