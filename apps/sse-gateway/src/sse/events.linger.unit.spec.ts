import { testNotification } from '@causeway/platform/testing';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';
import { type PausedClient, pausedClients } from '../testing/paused.client';

/**
 * A stream the hub ends gracefully (here an operator's disconnect; the connection timeout, a
 * session's end, a revocation, an unreadable log and shutdown end them alike) leaves the hub's
 * count at once. If its client stopped reading, the end never reaches it: the socket is then
 * destroyed after a short grace, min(STALL_TIMEOUT_MS, 5 s), rather than held for ever outside
 * MAX_CONNECTIONS and the per-user limit.
 */
describe('GET /events streams ended while their client does not read', () => {
  const STALL_MS = 1_000;
  let app: GatewayTestApp;
  let pausedClient: (userId: string) => Promise<PausedClient>;
  beforeAll(async () => {
    app = await startGatewayTestApp({
      settings: { stallTimeoutMs: STALL_MS, bufferMaxBytes: 512 * 1024 * 1024 },
    });
    pausedClient = pausedClients(app);
  });
  afterAll(() => app.close());

  it('destroys the socket of an ended stream whose client stopped reading', async () => {
    const { client, server } = await pausedClient('ash');
    const reader = new AbortController();
    const response = await fetch(`${app.url}/events`, {
      headers: await app.bearer('misty'),
      signal: reader.signal,
    });
    let text = '';
    const reading = (async () => {
      for await (const chunk of response.body!) text += Buffer.from(chunk as Uint8Array).toString();
    })().catch(() => undefined);
    try {
      // ash's own notifications until node holds some of them: the kernel's buffers are full.
      const chunk = 'x'.repeat(256 * 1024);
      for (let n = 0; n < 256 && server.writableLength === 0; n++) {
        await app.log.append(
          testNotification({ targetType: 'user', targetIds: ['ash'], params: { n, chunk } }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(server.writableLength).toBeGreaterThan(0);

      expect(app.hub.disconnect('ash', 'test')).toBe(1);
      expect(app.hub.disconnect('misty', 'test')).toBe(1);
      expect(app.hub.size).toBe(0);
      const ended = Date.now();
      await until(() => server.destroyed, 'the socket of the ended stream to be destroyed');
      expect(Date.now() - ended).toBeGreaterThanOrEqual(STALL_MS - 50);
      // Ended by the disconnect, not dropped as a stalled client.
      expect(await app.metric('causeway_sse_slow_clients_dropped_total')).toBe(0);
      // A client that reads gets its stream's end, last frame included.
      await reading;
      expect(text).toMatch(/"method":"disconnected".*\n\n$/);
    } finally {
      client.destroy();
      reader.abort();
      await reading;
    }
  }, 30_000);
});

async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
