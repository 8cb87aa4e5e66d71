import { freePort, RedisServerProcess } from '@causeway/testkit';
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
