import { freePort, RedisServerProcess } from '@causeway/testkit';
import Redis from 'ioredis';
import { redisConnection } from '../src/redis';

// redisConnection against a real redis-server that requires a password (started here: the
// shared test Redis has none).
describe('redisConnection with a password', () => {
  let server: RedisServerProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = new RedisServerProcess(port, ['--requirepass', 'right-pw']);
    await server.start();
  });
  afterAll(() => server.remove());

  it('says the password was refused, not that the server is unreachable', async () => {
    const connection = redisConnection({
      url: `redis://:wrong-pw@127.0.0.1:${port}`,
      connectTimeoutMs: 2_000,
    });
    try {
      await expect(connection.open()).rejects.toThrow(/^authentication refused: WRONGPASS/);
      await expect(connection.check()).rejects.toThrow(/^authentication refused: WRONGPASS/);
    } finally {
      await connection.close();
    }
  });

  it('connects with the right password and shows its address without it', async () => {
    const connection = redisConnection({ url: `redis://:right-pw@127.0.0.1:${port}` });
    try {
      await connection.open();
      await expect(connection.check()).resolves.toBeUndefined();
      expect(connection.target).toBe(`redis://127.0.0.1:${port}`);
    } finally {
      await connection.close();
    }
  });
});

// ioredis alone rejects a failed connect with a bare "Connection is closed.", naming nothing.
describe('redisConnection to a server it cannot reach', () => {
  async function openError(url: string): Promise<Error> {
    const connection = redisConnection({ url, connectTimeoutMs: 2_000 });
    try {
      const error = await connection.open().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(Error);
      return error as Error;
    } finally {
      await connection.close();
    }
  }

  it('names host:port, the option and the refusal, keeps it as cause, never the password', async () => {
    const port = await freePort();
    const error = await openError(`redis://user:s3cret-pw@127.0.0.1:${port}`);
    expect(error.message).toBe(
      `cannot connect to Redis at 127.0.0.1:${port} (redisConnection options.url): ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    // Node's own error (another realm under jest: matched by shape, not instanceof).
    expect(error.cause).toMatchObject({
      code: 'ECONNREFUSED',
      message: `connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(`${error.message} ${String(error.stack)}`).not.toMatch(/s3cret-pw|user:/);
  });

  it('names a host that does not resolve, with the lookup failure as cause', async () => {
    const error = await openError('redis://:s3cret-pw@nonexistent.invalid:6379');
    expect(error.message).toMatch(
      /^cannot connect to Redis at nonexistent\.invalid:6379 \(redisConnection options\.url\): getaddrinfo (ENOTFOUND|EAI_AGAIN) nonexistent\.invalid$/,
    );
    expect((error.cause as NodeJS.ErrnoException).code).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    expect(error.message).not.toContain('s3cret-pw');
  });
});

// The commands one tick issues reach Redis together: one socket write, one read on the server.
describe('redisConnection coalescing writes', () => {
  let server: RedisServerProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = new RedisServerProcess(port);
    await server.start();
  });
  afterAll(() => server.remove());

  /** Read events Redis processed so far (INFO stats: the INFO itself is one), on a connection of its own. */
  async function readsProcessed(probe: Redis): Promise<number> {
    const info = await probe.info('stats');
    return Number(/total_reads_processed:(\d+)/.exec(info)![1]);
  }

  it('sends the commands of one tick in one write, in order, on the client and its duplicates', async () => {
    const connection = redisConnection({ url: `redis://127.0.0.1:${port}` });
    const copy = connection.client.duplicate();
    const probe = new Redis(port, '127.0.0.1');
    try {
      await connection.open();
      await copy.ping();
      for (const client of [connection.client, copy]) {
        const before = await readsProcessed(probe);
        // 50 commands from one tick, reading what the ones before them wrote.
        const replies = await Promise.all(
          Array.from({ length: 25 }, (_, i) => [
            client.set('coalesced', `v${i}`),
            client.get('coalesced'),
          ]).flat(),
        );
        const after = await readsProcessed(probe);
        expect(replies.filter((_, i) => i % 2 === 1)).toEqual(
          Array.from({ length: 25 }, (_, i) => `v${i}`),
        );
        // One read for the 50 commands (two if Redis reads before the write is whole), one for INFO.
        expect(after - before).toBeLessThanOrEqual(3);
      }
    } finally {
      probe.disconnect();
      copy.disconnect();
      await connection.close();
    }
  });
});
