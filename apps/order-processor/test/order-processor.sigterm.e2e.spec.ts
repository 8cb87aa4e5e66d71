import { randomUUID } from 'node:crypto';
import { type OrderPlaced, type ProgressEvent } from '@causeway/contracts';
import { removeNamespaceData, testNamespace, type ServiceProcess } from '@causeway/testkit';
import { openOrderBusClient, type OrderBusClient } from './order-bus.client';
import { startOrderInstance } from './order-processor.harness';

const ns = testNamespace('ordersigterm');

/**
 * SIGTERM of order-processor while an order's handler runs longer than the shutdown budget
 * (SHUTDOWN_TIMEOUT_MS): the Kafka subscription must give up on it in time — commit what
 * finished, leave the group — and the process exit 0, the order redelivered to the next
 * instance. With the subscriber's own close timeout (25 s), longer than the budget, the
 * shutdown timeout ended the process first: exit code 1.
 */
describe('order-processor stopped while an order is being handled', () => {
  let service: ServiceProcess | undefined;
  let bus: OrderBusClient;

  const start = (instance: string, stepDelayMs: number) =>
    startOrderInstance(ns, instance, {
      ORDER_STEP_DELAY_MS: String(stepDelayMs),
      // Below the subscriber's default close timeout (25 s), far above what a stop takes.
      SHUTDOWN_TIMEOUT_MS: '20000',
    });

  beforeAll(async () => {
    bus = await openOrderBusClient(ns);
  }, 60_000);

  afterAll(async () => {
    await bus?.close();
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  const until = (taskId: string, seen: (events: ProgressEvent[]) => boolean) =>
    bus.progressUntil(taskId, seen, 40_000);

  it('exits 0 within SHUTDOWN_TIMEOUT_MS, and the next instance finishes the order', async () => {
    // Each step waits a minute: the order is still being handled when the stop comes.
    service = await start('order-processor-t1', 60_000);
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    await bus.place(order);
    await until(order.taskId, (events) => events.some((e) => e.eventType === 'STARTED'));
    expect(await service.stop('SIGTERM')).toBe(0);

    service = await start('order-processor-t2', 0);
    const told = await until(order.taskId, (events) =>
      events.some((e) => e.eventType === 'COMPLETED'),
    );
    // Every step once: the abandoned delivery was redelivered, nothing stored twice.
    expect(told.map((e) => e.eventId)).toEqual([
      `${order.taskId}:0:STARTED`,
      `${order.taskId}:1:PROGRESS`,
      `${order.taskId}:2:PROGRESS`,
      `${order.taskId}:3:PROGRESS`,
      `${order.taskId}:4:COMPLETED`,
    ]);
  }, 120_000);
});
