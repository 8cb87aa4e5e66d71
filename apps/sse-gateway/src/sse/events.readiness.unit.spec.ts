import { type InMemoryNotificationLog, type NotificationLog } from '@causeway/platform';
import { get, type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/** `log` behind a link that is down until `up` is set: as Redis unreachable at start. */
function unreachable(log: InMemoryNotificationLog): NotificationLog & { up: boolean } {
  const wrapped = Object.create(log) as NotificationLog & { up: boolean };
  wrapped.up = false;
  wrapped.latestId = async () => {
    if (!wrapped.up) throw new Error('connect ECONNREFUSED');
    return log.latestId();
  };
  return wrapped;
}

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * /health/ready says whether the instance serves streams: a load balancer that routes by it must
 * not send clients (those of a stopping or dead instance resuming, a rolling deploy) to an
 * instance that refuses every stream 503 `not-ready`.
 */
describe('GET /events readiness', () => {
  let app: GatewayTestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const ready = async (): Promise<boolean> => {
    const results = await Promise.all(
      app!.probes.map((probe) =>
        probe.check().then(
          () => true,
          () => false,
        ),
      ),
    );
    return results.every(Boolean);
  };

  it('is not ready while its hub cannot follow the log or has stopped, and ready while it serves streams', async () => {
    let log: (NotificationLog & { up: boolean }) | undefined;
    app = await startGatewayTestApp({ wrapLog: (base) => (log = unreachable(base)) });
    const headers = await app.bearer('ash');
    // The log cannot be read: every stream is refused, and the instance says it is not ready.
    expect(await get(app, '/events', headers)).toMatchObject({
      status: 503,
      body: { type: 'https://causeway.dev/problems/not-ready' },
    });
    expect(await ready()).toBe(false);

    log!.up = true;
    await until(async () => (await get(app!, '/events', headers)).status === 200, 'a stream');
    expect(await ready()).toBe(true);

    // Stopping (SIGTERM: the HTTP server still answers while shutdown runs its course).
    await app.hub.stop();
    expect((await get(app, '/events', headers)).status).toBe(503);
    expect(await ready()).toBe(false);
  });
});
