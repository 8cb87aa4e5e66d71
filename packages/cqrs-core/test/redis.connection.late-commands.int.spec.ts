import Redis from 'ioredis';
import { freePort, RedisServerProcess } from '@causeway/testkit';
import { isRedisCommandNotSent, redisConnection } from '../src/redis';

// A command whose caller was told it failed must never be executed later: ioredis keeps such
// commands queued (offline queue, resend queue) and writes them when the connection is back.
// Against a redis-server of the test's own: it is stopped and paused here.
describe('redisConnection never sends a command its caller saw fail', () => {
  let server: RedisServerProcess;
  let admin: Redis;
  let down = false;
  const stop = async () => {
    down = true;
    await server.stop('SIGKILL');
  };
  const start = async () => {
    await server.start();
    down = false;
  };
  afterEach(async () => {
    if (down) await start();
  });

  beforeAll(async () => {
    server = new RedisServerProcess(await freePort());
    await server.start();
    admin = new Redis(server.url, { lazyConnect: true });
    await admin.connect();
  });
  afterAll(async () => {
    admin.disconnect();
    await server.remove();
  });

  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  async function ready(client: Redis): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (client.status !== 'ready') {
      if (Date.now() > deadline) throw new Error(`still ${client.status}`);
      await delay(10);
    }
    await client.ping();
  }

  it('does not write a command that timed out while Redis was down once it is back', async () => {
    const connection = redisConnection({
      url: server.url,
      commandTimeoutMs: 150,
      maxReconnectDelayMs: 2_000,
    });
    const { client } = connection;
    try {
      await connection.open();
      await admin.del('offline');
      await stop();
      // Past a reconnect attempt that flushed the queue (maxRetriesPerRequest 1: every second
      // one) and 800 ms before the next: a command now waits in the offline queue and times out.
      await new Promise<void>((resolve) => {
        const listener = () => {
          if ((client as unknown as { retryAttempts: number }).retryAttempts !== 4) return;
          client.off('reconnecting', listener);
          resolve();
        };
        client.on('reconnecting', listener);
      });
      const error = await client.incr('offline').then(
        () => undefined,
        (failure: unknown) => failure as Error,
      );
      await start();
      await ready(client);
      await delay(200);
      expect(await admin.get('offline')).toBeNull();
      expect(error?.message).toMatch(/Command timed out/);
      // It was never written: the error says so (a retry is safe).
      expect(isRedisCommandNotSent(error)).toBe(true);
    } finally {
      await connection.close();
    }
  });

  it('does not resend a written command whose reply timed out when the connection dropped', async () => {
    const connection = redisConnection({
      url: server.url,
      commandTimeoutMs: 150,
      maxReconnectDelayMs: 50,
      options: { connectionName: 'late-commands-resend' },
    });
    const { client } = connection;
    try {
      await connection.open();
      await admin.del('resent');
      await admin.client('PAUSE', 5_000, 'WRITE');
      try {
        // Written to the socket, held by the paused server: the caller's wait times out.
        const error = await client.incr('resent').then(
          () => undefined,
          (failure: unknown) => failure as Error,
        );
        expect(error?.message).toMatch(/Command timed out/);
        // It may have been executed: the error must not say it was not sent.
        expect(isRedisCommandNotSent(error)).toBe(false);
        // The connection drops with the INCR unanswered; ioredis would resend it on reconnect.
        await admin.client('KILL', 'SKIPME', 'yes', 'TYPE', 'normal');
        await delay(100);
      } finally {
        await admin.client('UNPAUSE');
      }
      await ready(client);
      await delay(200);
      expect(await admin.get('resent')).toBeNull();
    } finally {
      await connection.close();
    }
  });

  it('still sends commands issued before the connection is up (no timeout: they wait)', async () => {
    const connection = redisConnection({ url: server.url });
    try {
      await admin.del('early');
      const early = connection.client.set('early', '1');
      await connection.open();
      await expect(early).resolves.toBe('OK');
      expect(await admin.get('early')).toBe('1');
    } finally {
      await connection.close();
    }
  });

  it('drops the whole pipeline of a failed command, and duplicates behave alike', async () => {
    const connection = redisConnection({
      url: server.url,
      commandTimeoutMs: 150,
      maxReconnectDelayMs: 2_000,
    });
    const copy = connection.client.duplicate();
    try {
      await connection.open();
      await copy.connect();
      await admin.del('piped', 'copied');
      await stop();
      await new Promise<void>((resolve) => {
        const listener = () => {
          if ((copy as unknown as { retryAttempts: number }).retryAttempts !== 4) return;
          copy.off('reconnecting', listener);
          resolve();
        };
        copy.on('reconnecting', listener);
      });
      const results = await copy
        .multi()
        .incr('piped')
        .incr('copied')
        .exec()
        .catch((error) => error);
      expect(results).toBeInstanceOf(Error);
      await start();
      await ready(copy);
      await delay(200);
      expect(await admin.mget('piped', 'copied')).toEqual([null, null]);
    } finally {
      copy.disconnect();
      await connection.close();
    }
  });
});
