import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from '@causeway/testkit';
import { redisConnection } from '../src/redis';

// redisConnection against a real redis-server that requires a password (started here: the
// shared test Redis has none).
describe('redisConnection with a password', () => {
  let port: number;
  let child: ChildProcess;

  beforeAll(async () => {
    port = await freePort();
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--requirepass', 'right-pw'],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

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

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
