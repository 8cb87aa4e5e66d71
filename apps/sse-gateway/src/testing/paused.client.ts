import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type GatewayTestApp } from './gateway.test-app';

/** A stream's two sockets: the test's client, and the server's side of its connection. */
export interface PausedClient {
  client: Socket;
  server: Socket;
}

/**
 * Opens `GET /events` streams on `app` as raw TCP clients that read the response headers and
 * then read nothing more (a slow or gone browser): what the gateway writes then stays in the
 * instance's buffers. Call once, before the first stream: it watches the server's connections.
 */
export function pausedClients(app: GatewayTestApp): (userId: string) => Promise<PausedClient> {
  const accepted: Socket[] = [];
  app.server.on('connection', (socket: Socket) => accepted.push(socket));
  return async (userId) => {
    const { Authorization } = await app.bearer(userId);
    const { port } = new URL(app.url);
    const before = accepted.length;
    const client = connect(Number(port), '127.0.0.1');
    await once(client, 'connect');
    client.write(
      `GET /events HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${Authorization}\r\n\r\n`,
    );
    let head = '';
    while (!head.includes('\r\n\r\n')) head += String((await once(client, 'data'))[0]);
    if (!/^HTTP\/1\.1 200/.test(head)) throw new Error(`GET /events answered ${head}`);
    client.pause();
    return { client, server: accepted[before]! };
  };
}
