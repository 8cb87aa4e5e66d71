import { testNotification } from '@causeway/platform/testing';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';
import { type PausedClient, pausedClients } from '../testing/paused.client';

/**
 * BUFFER_MAX_BYTES bounds the bytes a client that does not read can hold in the instance's
 * memory, whatever its notifications hold: a socket counts the characters of a string written
 * to it, not its bytes, so multi-byte text (names, chat: 3 bytes a character for "€") once got
 * up to 3 times the bound through before its client was dropped as slow.
 */
describe('GET /events clients that do not read multi-byte notifications', () => {
  const MAX_BYTES = 1024 * 1024;
  let app: GatewayTestApp;
  let pausedClient: (userId: string) => Promise<PausedClient>;
  beforeAll(async () => {
    // No stall check in the way: only BUFFER_MAX_BYTES drops the client here.
    app = await startGatewayTestApp({
      settings: { stallTimeoutMs: 10 * 60_000, bufferMaxBytes: MAX_BYTES },
    });
    pausedClient = pausedClients(app);
  });
  afterAll(() => app.close());

  /** Appends a notification for ash and waits until the gateway has dispatched it. */
  async function sendAsh(params: Record<string, unknown>): Promise<void> {
    await app.log.append(testNotification({ targetType: 'user', targetIds: ['ash'], params }));
    await app.hub.caughtUp(10_000);
  }

  it('drops the client once BUFFER_MAX_BYTES bytes, not characters, wait for it', async () => {
    const { client, server } = await pausedClient('ash');
    try {
      // Fills the kernel's buffers (ASCII) until node holds what the client is sent.
      const ascii = 'x'.repeat(64 * 1024);
      for (let n = 0; n < 512 && server.writableLength === 0; n++) await sendAsh({ n, ascii });
      expect(server.writableLength).toBeGreaterThan(0);
      expect(app.hub.connectionsOf('ash')).toHaveLength(1);

      // From here on everything sent waits in the instance's memory: 96 KiB frames of "€".
      const euros = '€'.repeat(32 * 1024);
      const frameBytes = Buffer.byteLength(euros);
      let sentBytes = 0;
      for (let n = 0; n < 64 && app.hub.connectionsOf('ash').length > 0; n++) {
        await sendAsh({ n, euros });
        sentBytes += frameBytes;
      }
      expect(app.hub.connectionsOf('ash')).toHaveLength(0);
      expect(await app.metric('causeway_sse_slow_clients_dropped_total')).toBe(1);
      // Dropped by the frame that took it past the bound (~1 MiB here; the ASCII still unwritten
      // only brings it sooner, the kernel may take a little more meanwhile): counted in
      // characters, it took ~2.8 MiB.
      expect(sentBytes).toBeLessThan(2 * MAX_BYTES);
    } finally {
      client.destroy();
    }
  }, 60_000);
});
