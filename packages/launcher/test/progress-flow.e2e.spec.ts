import { mkdtempSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  followProgress as follow,
  launchBrowser,
  openDemoPage,
  removeNamespaceData,
  serverAddress,
  testNamespace,
  withDatabase,
} from '@causeway/testkit';
import {
  launchSystem,
  planInstances,
  startEdgeProxy,
  stopSystem,
  type RunningInstance,
} from '../src';

// SPEC S3 end to end on the real servers (ADR 015): command-api takes the order, Kafka carries
// it, order-processor runs the steps into MongoDB, a gateway streams the progress to its user
// only; the demo page shows it through the edge.
describe('order progress, end to end', () => {
  const ns = testNamespace('orders');
  let running: RunningInstance[] = [];
  const streams: { close(): void }[] = [];
  let api: string;
  let orders: string;
  let gateway: string;
  const root = path.resolve(__dirname, '..', '..', '..');

  beforeAll(async () => {
    const instances = planInstances(
      {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: withDatabase(serverAddress('mongodb'), ns.database),
      },
      {
        // Ports 9 000–12 913: clear of the other system tests (23 000–32 013), of the local
        // servers (16 379 and up) and of Linux's ephemeral range (32 768+).
        portOffset: 6_000 + Math.floor(Math.random() * 3_900),
        adminToken: `orders-${ns.id}-admin-token`,
        jwtSecret: `orders-${ns.id}-jwt-secret-0123456789abcdef`,
        devTokens: true,
        logLevel: 'warn',
      },
    ).filter((instance) =>
      ['command-api', 'order-processor', 'sse-gateway'].includes(instance.app),
    );
    for (const instance of instances) {
      instance.env.TOPIC_PREFIX = ns.id;
      instance.env.ORDER_STEP_DELAY_MS = '300';
    }
    running = await launchSystem(instances, {
      root,
      logDir: mkdtempSync(path.join(tmpdir(), 'causeway-orders-')),
    });
    api = running.find((i) => i.app === 'command-api')!.url;
    orders = running.find((i) => i.app === 'order-processor')!.url;
    gateway = running.find((i) => i.app === 'sse-gateway')!.url;
  }, 120_000);
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await stopSystem(running, 5_000);
    await removeNamespaceData(ns, ['redis', 'mongodb', 'kafka']);
  }, 60_000);

  async function tokenOf(userId: string): Promise<string> {
    const response = await fetch(`${api}/api/dev/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    expect(response.ok).toBe(true);
    return ((await response.json()) as { token: string }).token;
  }
  async function order(token: string, items: { sku: string; quantity: number }[]) {
    const response = await fetch(`${api}/api/v2/progress/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ items }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { taskId: string }).taskId;
  }
  const get = async (token: string, route: string) => {
    const response = await fetch(`${orders}/api/v2/progress/${route}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const progressOf = (stream: ReturnType<typeof follow>, taskId: string) =>
    stream.received.filter((r) => r.event === 'progress' && r.data.taskId === taskId);

  it('streams an order from 0 % to 100 % and keeps its history; a reconnect recovers the state', async () => {
    const ash = await tokenOf('ash');
    const misty = await tokenOf('misty');
    const ashLive = follow(`${gateway}/api/v2/progress/subscribe`, ash);
    const mistyLive = follow(`${gateway}/api/v2/progress/subscribe`, misty);
    streams.push(ashLive, mistyLive);
    await Promise.all([ashLive.opened, mistyLive.opened]);

    const taskId = await order(ash, [{ sku: 'sku-apple', quantity: 2 }]);
    // Polled at once, before order-processor may have read the order: the task, never a 404.
    const accepted = await get(ash, `status/${taskId}`);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ taskId, userId: 'ash', totalSteps: 4 });
    await ashLive.until(
      () => progressOf(ashLive, taskId).some((r) => r.data.eventType === 'COMPLETED'),
      'the completed order',
    );
    const seen = progressOf(ashLive, taskId);
    expect(seen.map((r) => [r.data.eventType, r.data.percentage])).toEqual([
      ['STARTED', 0],
      ['PROGRESS', 25],
      ['PROGRESS', 50],
      ['PROGRESS', 75],
      ['COMPLETED', 100],
    ]);
    expect(mistyLive.received.filter((r) => r.data.taskId === taskId)).toEqual([]);

    const status = await get(ash, `status/${taskId}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      taskId,
      status: 'COMPLETED',
      percentage: 100,
      eventCount: 5,
    });
    const history = await get(ash, `history/${taskId}`);
    expect(
      (history.body as { events: { eventId: string }[] }).events.map((e) => e.eventId),
    ).toEqual(seen.map((r) => r.data.eventId));
    expect((await get(misty, `status/${taskId}`)).status).toBe(404);

    const again = follow(`${gateway}/api/v2/progress/subscribe/${taskId}`, ash);
    streams.push(again);
    await again.until(() => again.received.length > 0, 'the recovery event');
    expect(again.received[0]).toMatchObject({
      event: 'recovery',
      data: { taskId, status: 'COMPLETED', percentage: 100 },
    });
  });

  it('resumes a stream cut mid-order (S3-5): Last-Event-ID replays the missed steps once, in order; a bare reconnect recovers the current percentage', async () => {
    const ash = await tokenOf('ash');
    const taskId = await order(ash, [{ sku: 'sku-apple', quantity: 1 }]);
    const url = `${gateway}/api/v2/progress/subscribe/${taskId}`;
    const first = follow(url, ash);
    streams.push(first);
    // Cut after the first step (the steps are 300 ms apart): the rest happens while away.
    await first.until(
      () => progressOf(first, taskId).some((r) => r.data.currentStep === 1),
      'the first step',
    );
    first.close();
    const lastSeen = first.received.at(-1)!;
    const seenIds = progressOf(first, taskId).map((r) => r.data.eventId as string);

    // Meanwhile a client without Last-Event-ID is shown where the task is now, at once.
    const bare = follow(url, ash);
    streams.push(bare);
    await bare.until(() => bare.received.length > 0, 'the recovery event');
    const recovery = bare.received[0]!;
    expect(recovery).toMatchObject({ event: 'recovery', data: { taskId } });
    expect(recovery.data.percentage).toBeGreaterThanOrEqual(25);
    const now = (await get(ash, `status/${taskId}`)).body as { percentage: number };
    expect(now.percentage).toBeGreaterThanOrEqual(recovery.data.percentage as number);
    bare.close();

    // Away until an event the first stream did not see is stored, then back with the last id
    // seen. Waited for, not timed: a stalled test process may have seen more steps before the cut.
    expect(lastSeen.data.eventType).not.toBe('COMPLETED'); // else nothing is left to miss
    const historyOf = async () =>
      ((await get(ash, `history/${taskId}`)).body as { events: { eventId: string }[] }).events.map(
        (e) => e.eventId,
      );
    let stored = await historyOf();
    for (
      const deadline = Date.now() + 10_000;
      stored.length <= stored.indexOf(seenIds.at(-1)!) + 1;
    ) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
      stored = await historyOf();
    }
    const missed = stored.slice(stored.indexOf(seenIds.at(-1)!) + 1);
    const back = follow(url, ash, lastSeen.id);
    streams.push(back);
    await back.until(
      () => progressOf(back, taskId).some((r) => r.data.eventType === 'COMPLETED'),
      'the completed order after the reconnect',
    );
    expect(back.received[0]!.event).toBe('recovery');
    const replayed = progressOf(back, taskId).map((r) => r.data.eventId as string);
    const history = await historyOf();
    // Exactly the events after the last one seen, in order: none missed, none twice — starting
    // with the ones stored while away (at least one), which only the replay can have sent.
    expect(replayed).toEqual(history.slice(history.indexOf(seenIds.at(-1)!) + 1));
    expect(missed.length).toBeGreaterThanOrEqual(1);
    expect(replayed.slice(0, missed.length)).toEqual(missed);
    expect([...seenIds, ...replayed]).toEqual(history.slice(history.indexOf(seenIds[0]!)));
    expect(progressOf(back, taskId).at(-1)!.data).toMatchObject({
      eventType: 'COMPLETED',
      percentage: 100,
    });
  });

  it('ends an order that cannot be served FAILED, with the reason', async () => {
    const brock = await tokenOf('brock');
    const live = follow(`${gateway}/api/v2/progress/subscribe`, brock);
    streams.push(live);
    await live.opened;
    const taskId = await order(brock, [{ sku: 'no-such-thing', quantity: 1 }]);
    await live.until(
      () => progressOf(live, taskId).some((r) => r.data.eventType === 'FAILED'),
      'the failed order',
    );
    const failed = progressOf(live, taskId).at(-1)!;
    expect(failed.data.reason).toEqual(expect.stringContaining('no-such-thing'));
    expect((await get(brock, `status/${taskId}`)).body).toMatchObject({ status: 'FAILED' });
  });

  it('shows an order on the demo page, through the edge, from placed to completed, with its history', async () => {
    const edge = await startEdgeProxy(
      {
        commandApi: [api],
        gateways: [gateway],
        orderProcessor: [orders],
        demoDirectory: path.join(root, 'apps', 'embedded', 'public'),
      },
      { port: 0, host: '127.0.0.1' },
    );
    const browser = await launchBrowser();
    try {
      const url = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
      const page = await openDemoPage(browser, url, 'dawn');
      await page.waitForSelector('body[data-orders="present"]', { timeout: 10_000 });
      await page.click('#order-ok');
      const done = await page.waitForSelector('#tasks li[data-status="COMPLETED"]', {
        timeout: 30_000,
      });
      expect(await done.textContent()).toContain('100% COMPLETED');
      await (await done.$('button'))!.click();
      await page.waitForSelector('#history li:nth-child(5)', { timeout: 10_000 });
      const lines = await page.$$eval('#history li', (items) => items.map((i) => i.textContent));
      expect(
        lines.map((line) => /STARTED|PROGRESS|COMPLETED|FAILED/.exec(line ?? '')?.[0]),
      ).toEqual(['STARTED', 'PROGRESS', 'PROGRESS', 'PROGRESS', 'COMPLETED']);

      await page.click('#order-fail');
      const failed = await page.waitForSelector('#tasks li[data-status="FAILED"]', {
        timeout: 30_000,
      });
      expect(await failed.textContent()).toContain('unknown sku sku-unicorn');
    } finally {
      await browser.close();
      edge.closeAllConnections();
      await new Promise((resolve) => edge.close(resolve));
    }
  });
});
