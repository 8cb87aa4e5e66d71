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
});
