import http from 'node:http';
import { type InMemoryNotificationLog, type NotificationLog } from '@causeway/platform';
import { InMemoryGatewayControl } from '../control/in-memory.gateway-control';
import { type GatewayControl } from '../control/gateway-control.port';
import { startGatewayTestApp } from '../testing/gateway.test-app';

/** `log` behind a link whose reads never answer: a server that stopped answering. */
function hanging(log: InMemoryNotificationLog): NotificationLog {
  const wrapped = Object.create(log) as NotificationLog;
  wrapped.latestId = () => new Promise<undefined>(() => undefined);
  return wrapped;
}

/** A control channel whose close never answers (listening works). */
function stuckOnClose(): GatewayControl {
  const control = new InMemoryGatewayControl();
  return Object.assign(Object.create(control) as GatewayControl, {
    close: () => new Promise<void>(() => undefined),
  });
}

/** 'closed' once `close` resolved, 'hung' if it has not within `ms`. */
async function closedWithin(close: () => Promise<void>, ms: number): Promise<'closed' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      close().then(() => 'closed' as const),
      new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A shutdown ends: an adapter that does not answer must not hold it until the process is killed
 * (SHUTDOWN_TIMEOUT_MS), with no stream told to go and no connection event flushed.
 */
describe('GatewayModule shutdown', () => {
  it('finishes while the start still waits for the notification log', async () => {
    const app = await startGatewayTestApp({ wrapLog: hanging });
    expect(app.hub.notReady()).toMatch(/has not started/);
    expect(await closedWithin(() => app.close(), 3_000)).toBe('closed');
  });

  it('finishes when the control channel does not answer its close', async () => {
    const app = await startGatewayTestApp({ control: stuckOnClose() });
    // The close gets KEPT_CLOSE_MS (2 s); the rest of the shutdown room for a loaded machine.
    expect(await closedWithin(() => app.close(), 7_000)).toBe('closed');
  }, 15_000);

  it('no longer hands the revocations it hears of to the stopped hub', async () => {
    const app = await startGatewayTestApp();
    const revoked = jest.spyOn(app.hub, 'revoked');
    await app.revocations!.revoke('ash');
    expect(revoked).toHaveBeenCalledTimes(1);
    await app.close();
    // Another instance's revocation, heard by this process's copy after the app stopped.
    await app.revocations!.revoke('misty');
    expect(revoked).toHaveBeenCalledTimes(1);
  });

  describe('while it stops', () => {
    /** GET `url` through `agent`: the answer's status and body, or the connection's error. */
    function get(
      url: string,
      headers: Record<string, string>,
      agent: http.Agent,
    ): Promise<{ status?: number; body?: string; error?: string; reused: boolean }> {
      return new Promise((resolve) => {
        const request = http.get(url, { headers, agent }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode, body, reused: request.reusedSocket }),
          );
        });
        request.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ error: error.code, reused: request.reusedSocket }),
        );
      });
    }

    // An EventSource gives up for good on any answer but 200 (503 `not-ready` while the hub
    // stops), and reconnects after a failed connection: it must find no instance here.
    it("answers a stream's reconnect with no status: a kept-alive connection is dropped, a new one refused", async () => {
      let release!: () => void;
      const app = await startGatewayTestApp({
        holdShutdown: new Promise<void>((resolve) => (release = resolve)),
      });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const { Authorization } = await app.bearer('ash');
        const opened = get(`${app.url}/events`, { Authorization }, agent);
        await until(() => [...app.hub.connections()].length === 1);
        const closing = app.close();
        const stream = await opened;
        expect(stream).toMatchObject({ status: 200, body: expect.stringContaining('"shutdown"') });
        // The shutdown still under way (held): the stream's connection, kept alive, is used
        // again, as a browser or a proxy would.
        expect(await get(`${app.url}/events`, { Authorization }, agent)).toEqual({
          error: 'ECONNRESET',
          reused: true,
        });
        expect(
          await get(`${app.url}/events`, { Authorization }, new http.Agent({ keepAlive: false })),
        ).toEqual({ error: 'ECONNREFUSED', reused: false });
        release();
        await closing;
      } finally {
        release();
        agent.destroy();
      }
    });
  });
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
