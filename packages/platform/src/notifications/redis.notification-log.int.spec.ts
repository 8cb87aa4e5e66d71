import { freePort, RedisServerProcess } from '@causeway/testkit';
import Redis from 'ioredis';
import { testNotification } from './notification-log.conformance';
import { type LoggedNotification } from './notification-log.port';
import { RedisNotificationLog } from './redis.notification-log';

/*
 * A follower must stop when told to even if its Redis went away after it connected: ioredis then
 * waits to reconnect with the follower's XREAD queued, and `disconnect()` in that state settles
 * no queued command (the sse-gateway once hung on SIGTERM for its whole shutdown timeout). This
 * file starts its own redis-server (the shared one must stay up) and kills it.
 */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** 'settled' if `promise` settles within `ms`, else 'pending'. */
async function within(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => 'settled' as const,
        () => 'settled' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('RedisNotificationLog follower when its Redis goes away', () => {
  let server: RedisServerProcess;
  let client: Redis;
  let log: RedisNotificationLog;

  beforeEach(async () => {
    server = new RedisServerProcess(await freePort());
    await server.start();
    // Like the apps' client, but reconnecting only after 10 s: when the test stops the follower,
    // its reader is certainly waiting to reconnect with its XREAD queued.
    client = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 10_000,
      // disconnect() of a closed socket waits this long for a close that never comes
      disconnectTimeout: 100,
    });
    client.on('error', () => undefined);
    await client.connect();
    log = new RedisNotificationLog({
      client,
      keyPrefix: 'notiflog:',
      blockMs: 5_000,
    });
  });

  afterEach(async () => {
    await log.close();
    client.disconnect();
    await server.remove();
  });

  /** Starts a follower, proves it reads, then kills Redis while its XREAD blocks. */
  async function followThenLoseRedis(signal: AbortSignal): Promise<{ following: Promise<void> }> {
    const received: LoggedNotification[] = [];
    const following = log.follow('$', (entries) => void received.push(...entries), signal);
    // Once the follower has resolved '$', an append reaches it (one made earlier would not).
    const deadline = Date.now() + 5_000;
    while (received.length === 0) {
      if (Date.now() > deadline) throw new Error('the follower never received an entry');
      await log.append(testNotification());
      for (let i = 0; i < 20 && received.length === 0; i++) await delay(10);
    }
    // Its next XREAD is blocking now; Redis dies under it.
    await delay(100);
    await server.stop('SIGKILL');
    // The shared client sees the close as the reader does; give both time to start waiting.
    while (client.status !== 'reconnecting') {
      if (Date.now() > deadline + 5_000) throw new Error(`the client is ${client.status}`);
      await delay(10);
    }
    await delay(200);
    // Wrapped: an async function returning the promise itself would wait for it to settle.
    return { following };
  }

  it('resolves promptly after the abort', async () => {
    const controller = new AbortController();
    const { following } = await followThenLoseRedis(controller.signal);
    controller.abort();
    expect(await within(following, 2_000)).toBe('settled');
    await expect(following).resolves.toBeUndefined();
  });

  it('resolves promptly after close()', async () => {
    const { following } = await followThenLoseRedis(new AbortController().signal);
    await log.close();
    expect(await within(following, 2_000)).toBe('settled');
    await expect(following).resolves.toBeUndefined();
  });
});

/*
 * The follower reads on a connection of its own: one that cannot connect while the app's shared
 * client can (Redis' maxclients reached, a path that refuses one more connection) made it wait
 * for ever with nothing said, its connection's errors dropped (session 46). Here nothing listens
 * on the port at all: every connection attempt is refused.
 */
describe('RedisNotificationLog follower whose own connection fails', () => {
  it('tells onFollowError why it cannot read', async () => {
    const client = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    client.on('error', () => undefined);
    const errors: Error[] = [];
    const log = new RedisNotificationLog({
      client,
      keyPrefix: 'notiflog:',
      onFollowError: (error) => void errors.push(error),
    });
    const controller = new AbortController();
    const following = log.follow('$', () => undefined, controller.signal);
    try {
      const deadline = Date.now() + 5_000;
      while (errors.length === 0) {
        if (Date.now() > deadline) throw new Error('onFollowError was never called');
        await delay(20);
      }
      expect(errors[0]!.message).toMatch(/ECONNREFUSED/);
    } finally {
      controller.abort();
      await following;
      client.disconnect();
    }
    // Stopped: its connection's later errors are not reported.
    const reported = errors.length;
    await delay(300);
    expect(errors).toHaveLength(reported);
  });
});
