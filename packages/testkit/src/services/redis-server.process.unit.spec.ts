import { connect } from 'node:net';
import { freePort } from './free-port';
import { RedisServerProcess } from './redis-server.process';

/** True when something takes a TCP connection on host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('RedisServerProcess', () => {
  it('kills its redis-server when start() gives up at the deadline', async () => {
    const port = await freePort();
    // The last --bind wins: it runs and listens on 127.0.0.2 only, so it never answers start().
    const server = new RedisServerProcess(port, ['--bind', '127.0.0.2']);
    try {
      await expect(server.start(1_000)).rejects.toThrow(`redis-server on ${port} did not answer`);
      // It was left running: the port stayed taken after the failed start.
      await expect(listening('127.0.0.2', port)).resolves.toBe(false);
    } finally {
      await server.remove();
    }
  });
});
