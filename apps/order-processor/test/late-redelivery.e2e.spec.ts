import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { type OrderPlaced } from '@causeway/contracts';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import { openOrderBusClient, type OrderBusClient } from './order-bus.client';

const ns = testNamespace('oplate');
const ADMIN_TOKEN = `admin-${ns.id}-0123456789`;
/** How long the log keeps its entries here; PROGRESS_HISTORY_TTL_MS stays a day. */
const RETENTION_MS = 1_000;

/**
 * A delivery of an order tells its task's last stored event again (a crash may have left it
 * untold), relying on the notification log to drop an id it has. The app's log remembered ids
 * for NOTIFICATION_LOG_RETENTION_MS only: an order delivered again later than that (a dead
 * letter replayed within PROGRESS_HISTORY_TTL_MS) sent its user's stream a second COMPLETED.
 * order-processor keeps the ids for the longer of the two (ADR 015, session 43 amendment); this
 * checks the app is wired so, on the real servers.
 */
describe('order-processor: an order delivered again after the log forgot its entries', () => {
  let service: ServiceProcess;
  let bus: OrderBusClient;

  beforeAll(async () => {
    service = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        REDIS_URL: serverAddress('redis'),
        KAFKA_BROKERS: serverAddress('kafka'),
        MONGODB_URI: ns.mongoUri(),
        ADMIN_TOKEN,
        JWT_SECRET: `jwt-${ns.id}-0123456789-0123456789`,
        TOPIC_PREFIX: `${ns.id}.`,
        ORDER_STEP_DELAY_MS: '0',
        ORDER_CATALOG: JSON.stringify({ tea: { stock: 5, priceCents: 300 } }),
        PAYMENT_LIMIT_CENTS: '10000',
        NOTIFICATION_LOG_RETENTION_MS: String(RETENTION_MS),
      },
    });
    await waitForStatus(`${service.url}/health/ready`, 200, 60_000);
    bus = await openOrderBusClient(ns);
  }, 90_000);

  afterAll(async () => {
    await bus?.close();
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  /** Polls `probe` every 100 ms until it holds, failing naming `what` after 30 s. */
  async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('does not tell the user its last step again', async () => {
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    await bus.place(order);
    let toldAt = 0;
    await until('the order to complete', async () => {
      const told = await bus.notifications(order.taskId);
      toldAt = Date.now();
      return told.some((n) => n.params.eventType === 'COMPLETED');
    });
    // Past the log's retention: an entry appended now trims the task's entries away.
    await new Promise((resolve) => setTimeout(resolve, RETENTION_MS + 500 - (Date.now() - toldAt)));
    const mark = await bus.log.latestId();

    await bus.place(order);
    // Handled to the end: the app's count of deliveries handled says so.
    await until('the second delivery to be handled', async () => {
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      return /^causeway_orders_consumed_total(\{[^}]*\})? 2$/m.test(metrics);
    });
    const after = (await bus.log.read(mark, 10_000))
      .map((entry) => entry.notification)
      .filter((n) => n.method === 'progress.update' && n.params.taskId === order.taskId)
      .map((n) => n.params.eventType);
    expect(after).toEqual([]);
  }, 60_000);
});
