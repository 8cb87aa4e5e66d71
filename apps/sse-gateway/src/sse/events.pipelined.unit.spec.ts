import { connect } from 'node:net';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';
import { MAX_PIPELINED_STREAMS } from './event-stream.opener';

/**
 * Two GET /events pipelined on one HTTP/1.1 connection: the second is answered only after the
 * first (RFC 9112 §9.3.2), so its stream must not open (count, show in presence, take frames)
 * before the first one ends.
 */
describe('GET /events pipelined behind another stream', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp({
      // A heartbeat below the timeout, as GatewayModule requires.
      settings: { heartbeatMs: 1_000, connectionTimeoutMs: 1_500 },
    });
  });
  afterAll(() => app.close());

  /** A raw connection that sent two GET /events of `userId` back to back; what it received. */
  const pipelined = async (userId: string, count: number) => {
    const { Authorization } = await app.bearer(userId);
    const socket = connect(Number(new URL(app.url).port), '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const get = `GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${Authorization}\r\n\r\n`;
    let closed = false;
    socket.on('close', () => (closed = true)).on('error', () => undefined);
    socket.write(get.repeat(count));
    return { socket, received: () => text, closed: () => closed };
  };
  const twoPipelined = (userId: string) => pipelined(userId, 2);

  it('opens the second stream when its turn comes, not before', async () => {
    const { socket, received } = await twoPipelined('erika');
    try {
      await until(() => received().includes('"method":"session"'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(app.hub.connectionsOf('erika')).toHaveLength(1);
      // The first stream times out (connectionTimeoutMs): then the second one opens.
      await until(() => (received().match(/"method":"session"/g) ?? []).length === 2, 5_000);
      expect(app.hub.connectionsOf('erika')).toHaveLength(1);
    } finally {
      socket.destroy();
    }
    await until(() => app.hub.connectionsOf('erika').length === 0);
  });

  it('forgets a pipelined request whose client went away while it waited', async () => {
    const { socket, received } = await twoPipelined('janine');
    await until(() => received().includes('"method":"session"'));
    // The second request waits for its turn: not registered (without the wait it would be).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(app.hub.connectionsOf('janine')).toHaveLength(1);
    socket.destroy();
    await until(() => app.hub.connectionsOf('janine').length === 0);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // past the first's timeout
    expect(app.hub.connectionsOf('janine')).toHaveLength(0);
  });

  it(`cuts off a client that pipelines more than ${MAX_PIPELINED_STREAMS} streams behind one`, async () => {
    // Observed, not replaced: jest's sandboxed `process` does not pass warnings to listeners.
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      const { closed } = await pipelined('koga', MAX_PIPELINED_STREAMS + 8);
      await until(closed);
      await until(() => app.hub.connectionsOf('koga').length === 0);
      expect(
        warn.mock.calls.filter(([warning]) => /MaxListenersExceeded/.test(String(warning))),
      ).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });

  it(`keeps a connection with ${MAX_PIPELINED_STREAMS} streams waiting behind one`, async () => {
    const { socket, received, closed } = await pipelined('sabrina', MAX_PIPELINED_STREAMS + 1);
    try {
      await until(() => received().includes('"method":"session"'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(closed()).toBe(false);
      expect(app.hub.connectionsOf('sabrina')).toHaveLength(1);
    } finally {
      socket.destroy();
    }
    await until(() => app.hub.connectionsOf('sabrina').length === 0);
  });
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
