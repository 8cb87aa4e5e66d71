import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { testNotification } from '@causeway/platform/testing';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * A client that stops reading is dropped after STALL_TIMEOUT_MS even while the kernel's socket
 * buffers absorb what it is sent (BUFFER_MAX_BYTES, far above it here, never is reached).
 */
describe('GET /events stalled clients', () => {
  const STALL_MS = 500;
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp({
      settings: { stallTimeoutMs: STALL_MS, bufferMaxBytes: 512 * 1024 * 1024 },
    });
  });
  afterAll(() => app.close());

  /** A raw TCP client that has read the stream's response headers and then reads nothing more. */
  async function pausedClient(userId: string): Promise<Socket> {
    const { Authorization } = await app.bearer(userId);
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `GET /events HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${Authorization}\r\n\r\n`,
    );
    let head = '';
    while (!head.includes('\r\n\r\n')) head += String((await once(socket, 'data'))[0]);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    socket.pause();
    return socket;
  }

  it('drops a client that stopped reading under traffic, and not one that reads', async () => {
    const paused = await pausedClient('ash');
    const controller = new AbortController();
    const response = await fetch(`${app.url}/events`, {
      headers: await app.bearer('misty'),
      signal: controller.signal,
    });
    let received = 0;
    const reading = (async () => {
      for await (const chunk of response.body!) received += (chunk as Uint8Array).length;
    })().catch(() => undefined);
    try {
      const chunk = 'x'.repeat(256 * 1024);
      // Broadcasts until the paused client is dropped: its kernel buffers fill first (a few MB),
      // then node's. Each waits for the reading client to have it, so nothing piles up there.
      for (let n = 0; n < 128 && app.hub.connectionsOf('ash').length > 0; n++) {
        await app.log.append(testNotification({ targetType: 'broadcast', params: { n, chunk } }));
        const expected = (n + 1) * chunk.length;
        await until(() => received >= expected, 'the reading client to get the broadcast');
      }
      await until(() => app.hub.connectionsOf('ash').length === 0, 'the paused client dropped');
      expect(await app.metric('causeway_sse_slow_clients_dropped_total')).toBe(1);
      // Closed by the server: reading again, the client gets the end of the stream.
      paused.resume();
      paused.on('data', () => undefined);
      if (!paused.closed) await once(paused, 'close');
      // The reading client is untouched.
      expect(app.hub.connectionsOf('misty')).toHaveLength(1);
      const before = received;
      await app.log.append(testNotification({ targetType: 'broadcast', params: { last: true } }));
      await until(() => received > before, 'the reading client to get the next broadcast');
    } finally {
      paused.destroy();
      controller.abort();
      await reading;
    }
  }, 30_000);
});

async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
