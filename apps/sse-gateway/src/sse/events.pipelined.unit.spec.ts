import { connect } from 'node:net';
import { type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * Two GET /events pipelined on one HTTP/1.1 connection: the second is answered only after the
 * first (RFC 9112 §9.3.2), so its stream must not open (count, show in presence, take frames)
 * before the first one ends.
 */
describe('GET /events pipelined behind another stream', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp({ settings: { connectionTimeoutMs: 1_500 } });
  });
  afterAll(() => app.close());

  /** A raw connection that sent two GET /events of `userId` back to back; what it received. */
  const twoPipelined = async (userId: string) => {
    const { Authorization } = await app.bearer(userId);
    const socket = connect(Number(new URL(app.url).port), '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const get = `GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${Authorization}\r\n\r\n`;
    socket.write(get + get);
    return { socket, received: () => text };
  };

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
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
