/**
 * The load side of the live benchmark, run as its own process so that draining hundreds of event
 * streams does not delay the measuring process: holds raw TCP connections speaking HTTP/1.1
 * (`GET /events`, bearer token) and reads and discards everything the gateways send, as a
 * browser that keeps up would. Driven over IPC: { open: [{ url, token }] } → { opened: n }.
 */
import { connect, type Socket } from 'node:net';

const sockets: Socket[] = [];

function open(url: string, token: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setNoDelay(true);
    let answered = false;
    socket.once('connect', () =>
      socket.write(
        `GET /events HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n` +
          `Authorization: Bearer ${token}\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      answered = true;
      const status = chunk.toString('latin1', 0, 12);
      if (status.startsWith('HTTP/1.1 200')) resolve();
      else reject(new Error(`load stream refused: ${chunk.toString('utf8', 0, 200)}`));
    });
    socket.once('error', reject);
    sockets.push(socket);
  });
}

process.on('message', (message: { open?: { url: string; token: string }[] }) => {
  if (!message.open) return;
  const streams = message.open;
  void (async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < streams.length) {
          const { url, token } = streams[next++]!;
          await open(url, token);
        }
      }),
    );
    process.send?.({ opened: sockets.length });
  })().catch((error: unknown) => {
    process.stderr.write(`live load clients failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
process.send?.({ ready: true });
