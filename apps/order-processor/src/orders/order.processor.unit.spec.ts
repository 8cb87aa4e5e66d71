import { contractsSerializer, type Notification, type OrderPlaced } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from './order.processor';

const START = Date.parse('2026-11-25T10:00:00.000Z');

function setup(notifications = new InMemoryNotificationLog()) {
  let tick = 0;
  const now = () => new Date(START + 1000 * tick++);
  const store = new InMemoryEventStore({ serializer: contractsSerializer() });
  const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000, now: () => START });
  const processor = new OrderProcessor({
    store,
    statuses,
    notifications,
    rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
    serverId: 'op-1',
    now,
    stepDelayMs: 0,
  });
  return { store, statuses, notifications, processor };
}

const order: OrderPlaced = {
  taskId: 't-1',
  userId: 'ash',
  items: [{ sku: 'apple', quantity: 2 }],
  placedAt: '2026-11-25T09:59:59.000Z',
};

async function logged(log: InMemoryNotificationLog): Promise<Notification[]> {
  return (await log.read(undefined, 100)).map((entry) => entry.notification);
}

describe('OrderProcessor (ADR 015 points 2 and 3)', () => {
  it('stores the five events of an order in order, broadcasting the status and each event', async () => {
    const { store, statuses, notifications, processor } = setup();
    const outcome = await processor.handle(order);
    expect(outcome.appended).toBe(5);
    const stored = await store.readStream('progress-t-1');
    expect(stored.map((e) => [e.version, e.messageId, e.type])).toEqual([
      [1, 't-1:0:STARTED', 'ProgressEvent'],
      [2, 't-1:1:PROGRESS', 'ProgressEvent'],
      [3, 't-1:2:PROGRESS', 'ProgressEvent'],
      [4, 't-1:3:PROGRESS', 'ProgressEvent'],
      [5, 't-1:4:COMPLETED', 'ProgressEvent'],
    ]);
    expect(await statuses.get('t-1')).toMatchObject({
      status: 'COMPLETED',
      percentage: 100,
      eventCount: 5,
    });
    const sent = await logged(notifications);
    expect(sent.map((n) => n.notificationId)).toEqual(stored.map((e) => `progress:${e.messageId}`));
    expect(sent[1]).toMatchObject({
      targetType: 'user',
      targetIds: ['ash'],
      method: 'progress.update',
      serverId: 'op-1',
      params: { eventType: 'PROGRESS', percentage: 25, stepName: 'validate order' },
    });
  });

  it('stores and notifies nothing twice when the order is delivered again', async () => {
    const { store, notifications, processor } = setup();
    await processor.handle(order);
    const again = await processor.handle(order);
    expect(again).toMatchObject({ appended: 0, status: { status: 'COMPLETED', eventCount: 5 } });
    expect(await store.readStream('progress-t-1')).toHaveLength(5);
    expect(await logged(notifications)).toHaveLength(5);
  });

  it('notifies on redelivery what a crash between append and notification left untold', async () => {
    const log = new InMemoryNotificationLog();
    let failNext = false;
    // The process "dies" right after storing the third event: its notification never goes out.
    const crashing = Object.assign(Object.create(log) as InMemoryNotificationLog, {
      append: (notification: Notification) => {
        if (failNext) throw new Error('crashed before notifying');
        if (notification.notificationId === 'progress:t-1:1:PROGRESS') failNext = true;
        return log.append(notification);
      },
    });
    const first = setup(crashing);
    await expect(first.processor.handle(order)).rejects.toThrow('crashed before notifying');
    expect(await first.store.readStream('progress-t-1')).toHaveLength(3);
    expect(await logged(log)).toHaveLength(2);
    failNext = false;
    crashing.append = (notification: Notification) => log.append(notification);
    const outcome = await first.processor.handle(order);
    expect(outcome.appended).toBe(2);
    expect((await logged(log)).map((n) => n.notificationId)).toEqual([
      'progress:t-1:0:STARTED',
      'progress:t-1:1:PROGRESS',
      'progress:t-1:2:PROGRESS',
      'progress:t-1:3:PROGRESS',
      'progress:t-1:4:COMPLETED',
    ]);
  });

  it('ends a failing order with FAILED and its reason', async () => {
    const { statuses, processor } = setup();
    const outcome = await processor.handle({ ...order, items: [{ sku: 'apple', quantity: 9 }] });
    expect(outcome.status).toMatchObject({
      status: 'FAILED',
      stepName: 'check stock',
      reason: 'not enough stock of apple: 9 ordered, 5 in stock',
      eventCount: 3,
    });
    expect(await statuses.get('t-1')).toMatchObject({ status: 'FAILED', eventCount: 3 });
  });
});
