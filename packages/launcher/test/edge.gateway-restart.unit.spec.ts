import { mkdtempSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Server } from 'node:http';
import { EventSource } from 'eventsource';
import {
  type GatewayTestApp,
  startGatewayTestApp,
} from '../../../apps/sse-gateway/src/testing/gateway.test-app';
import { startEdgeProxy } from '../src/edge.proxy';

async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A rolling restart as a browser sees it through the edge: the instance that stops ends its
 * streams with a `shutdown` frame, and each EventSource reconnects — to the other instance. An
 * EventSource answered anything but 200 (the stopping instance's 503 `not-ready`) closes for
 * good (WHATWG HTML, "fail the connection"), and the page's live view froze until a reload.
 */
describe('the edge in front of two gateways, one of which stops', () => {
  let release!: () => void;
  const apps: GatewayTestApp[] = [];
  let edge: Server | undefined;
  afterEach(async () => {
    release();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await new Promise((resolve) => edge?.close(resolve));
  });

  it("reconnects an EventSource to the other instance while the stopping one's shutdown lasts", async () => {
    // The stopping instance's shutdown is held after the gateway's own hook (the presence
    // registry's removal and the connection events' flush take up to ~6 s in the app).
    const held = new Promise<void>((resolve) => (release = resolve));
    const settings = { retryMs: 200 };
    const stopping = await startGatewayTestApp({ serverId: 'gw-a', settings, holdShutdown: held });
    const staying = await startGatewayTestApp({ serverId: 'gw-b', settings });
    apps.push(staying);
    edge = await startEdgeProxy(
      {
        commandApi: [],
        gateways: [stopping.url, staying.url],
        orderProcessor: [],
        demoDirectory: mkdtempSync(path.join(tmpdir(), 'edge-demo-')),
      },
      { port: 0, host: '127.0.0.1' },
    );
    const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
    // Both apps check the same secret: one token opens a stream on either.
    const { Authorization } = await stopping.bearer('ash');
    const frames: { method: string; serverId?: unknown }[] = [];
    const source = new EventSource(`${edgeUrl}/events`, {
      fetch: (url, init) =>
        fetch(url, { ...init, headers: { ...init.headers, authorization: Authorization } }),
    });
    source.onmessage = (event) => {
      const { method, params } = JSON.parse(event.data) as {
        method: string;
        params: { serverId?: unknown };
      };
      frames.push({ method, serverId: params.serverId });
    };
    try {
      // The first request of the pool goes to gw-a.
      await until(() => frames.length > 0, 'the stream to open');
      expect(frames[0]).toEqual({ method: 'session', serverId: 'gw-a' });
      // One request to gw-b: the reconnect's turn is gw-a's again (round robin), over the edge's
      // kept-alive connection that carried the stream.
      expect((await fetch(`${edgeUrl}/events`, { method: 'HEAD' })).status).toBe(401);

      const closing = stopping.close();
      await until(
        () => frames.length >= 3 || source.readyState === EventSource.CLOSED,
        'the EventSource to reconnect or give up',
      );
      expect({ frames, open: source.readyState === EventSource.OPEN }).toEqual({
        frames: [
          { method: 'session', serverId: 'gw-a' },
          { method: 'shutdown', serverId: 'gw-a' },
          { method: 'session', serverId: 'gw-b' },
        ],
        open: true,
      });
      release();
      await closing;
    } finally {
      source.close();
    }
  });
});
