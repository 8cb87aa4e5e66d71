import { randomUUID } from 'node:crypto';
import { type OrderPlaced, type ProgressEvent, type ProgressStatus } from '@causeway/contracts';
import { TokenService } from '@causeway/platform';
import { removeNamespaceData, testNamespace, type ServiceProcess } from '@causeway/testkit';
import { openOrderBusClient, type OrderBusClient } from './order-bus.client';
import { startOrderInstance } from './order-processor.harness';

const ns = testNamespace('orderkill');
const tokens = new TokenService({ secret: `jwt-${ns.id}-0123456789-0123456789` });

/**
 * SIGKILL of order-processor at observable points of an order (the durability of ADR 015
 * points 2 and 3): a restarted instance finishes what was acknowledged, stores no step twice,
 * and tells every stored step to the user once.
 */
describe('order-processor killed in the middle of an order', () => {
  let service: ServiceProcess | undefined;
  let bus: OrderBusClient;
  let ash: string;

  /** An instance on the namespace; the dead one's group session ends after 6 s (the broker's least). */
  const start = (instance: string) =>
    startOrderInstance(ns, instance, { ORDER_STEP_DELAY_MS: '700' });

  beforeAll(async () => {
    bus = await openOrderBusClient(ns);
    ash = (await tokens.issue('ash')).token;
  }, 60_000);

  afterAll(async () => {
    await bus?.close();
    await service?.stop('SIGTERM');
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  async function place(): Promise<OrderPlaced> {
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    await bus.place(order);
    return order;
  }

  async function notified(taskId: string): Promise<ProgressEvent[]> {
    return (await bus.notifications(taskId)).map((n) => n.params as unknown as ProgressEvent);
  }

  /** Polls the user's notifications until `seen` holds for them (the observable kill point). */
  const until = (taskId: string, seen: (events: ProgressEvent[]) => boolean) =>
    bus.progressUntil(taskId, seen);

  async function history(taskId: string): Promise<ProgressEvent[]> {
    const response = await fetch(`${service!.url}/api/v2/progress/history/${taskId}`, {
      headers: { Authorization: `Bearer ${ash}` },
    });
    return ((await response.json()) as { events: ProgressEvent[] }).events;
  }

  const steps = (taskId: string) => [
    `${taskId}:0:STARTED`,
    `${taskId}:1:PROGRESS`,
    `${taskId}:2:PROGRESS`,
    `${taskId}:3:PROGRESS`,
    `${taskId}:4:COMPLETED`,
  ];

  it('a restarted instance resumes after the last stored step: every step once, stored and told', async () => {
    service = await start('order-processor-k1');
    const placed = await place();
    // Killed during the pause before 'check stock', 'validate order' stored and told.
    await until(placed.taskId, (events) => events.some((e) => e.currentStep === 1));
    await service.stop('SIGKILL');

    service = await start('order-processor-k2');
    const told = await until(placed.taskId, (events) =>
      events.some((e) => e.eventType === 'COMPLETED'),
    );
    expect(told.map((e) => e.eventId)).toEqual(steps(placed.taskId));
    expect((await history(placed.taskId)).map((e) => e.eventId)).toEqual(steps(placed.taskId));
    expect(await bus.statuses.get(placed.taskId)).toMatchObject<Partial<ProgressStatus>>({
      status: 'COMPLETED',
      eventCount: 5,
    });
  }, 60_000);

  it('killed right after COMPLETED: the redelivery stores and tells nothing twice, and the next order runs', async () => {
    const placed = await place();
    await until(placed.taskId, (events) => events.some((e) => e.eventType === 'COMPLETED'));
    await service!.stop('SIGKILL');

    service = await start('order-processor-k3');
    const next = await place();
    await until(next.taskId, (events) => events.some((e) => e.eventType === 'COMPLETED'));
    expect((await notified(placed.taskId)).map((e) => e.eventId)).toEqual(steps(placed.taskId));
    expect((await history(placed.taskId)).map((e) => e.eventId)).toEqual(steps(placed.taskId));
    expect((await notified(next.taskId)).map((e) => e.eventId)).toEqual(steps(next.taskId));
  }, 60_000);
});
