import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo } from 'node:net';
import { Arrivals } from '../waits/arrivals';
import { followProgress } from './progress.client';
import { openSseStream } from './sse.client';

/**
 * An SSE server whose first stream sends one `frame` and ends (the client then reconnects, as
 * after a gateway's restart or CONNECTION_TIMEOUT_MS); later streams stay open. Records each
 * request's headers.
 */
async function resumingServer(frame: string): Promise<{
  url: string;
  requests: Arrivals<IncomingHttpHeaders>;
  close(): Promise<void>;
}> {
  const requests = new Arrivals<IncomingHttpHeaders>();
  const open: ServerResponse[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request.headers);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    // retry: reconnect after 10 ms, not the client's default seconds.
    if (requests.length === 1) response.end(`retry: 10\n${frame}\n`);
    else {
      response.write(': open\n\n');
      open.push(response);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/stream`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const response of open) response.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the SSE clients resume from the last id they received', () => {
  it('followProgress: a reconnection sends the newest id alone, not joined to the first', async () => {
    const server = await resumingServer('event: progress\nid: 7\ndata: {"percentage":25}\n');
    const stream = followProgress(server.url, 'token', '1');
    try {
      const [first, second] = await server.requests.atLeast(2, 'a reconnection', 20_000);
      expect(first).toMatchObject({ 'last-event-id': '1', authorization: 'Bearer token' });
      // Both were sent, `7, 1`: an id the gateway refuses (400 invalid-request).
      expect(second).toMatchObject({ 'last-event-id': '7', authorization: 'Bearer token' });
      expect(stream.received).toEqual([{ event: 'progress', id: '7', data: { percentage: 25 } }]);
    } finally {
      stream.close();
      await server.close();
    }
  });

  it('openSseStream: so does a stream whose first frames were named events', async () => {
    // A `recovery` (or `shutdown`) frame is not a message: `frames` stayed empty and the first
    // id was sent again beside the library's.
    const server = await resumingServer('event: recovery\nid: 7\ndata: {}\n');
    const stream = await openSseStream(server.url, { token: 'token', lastEventId: '1' });
    try {
      const [first, second] = await server.requests.atLeast(2, 'a reconnection', 20_000);
      expect(first).toMatchObject({ 'last-event-id': '1', authorization: 'Bearer token' });
      expect(second).toMatchObject({ 'last-event-id': '7', authorization: 'Bearer token' });
    } finally {
      stream.close();
      await server.close();
    }
  });
});
