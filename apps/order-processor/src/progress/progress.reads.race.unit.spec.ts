import { acceptedProgressStatus, contractsSerializer, type OrderPlaced } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressReads } from './progress.reads';

/**
 * The real in-memory stores and the real OrderProcessor; the only device is the
 * interleaving — the consumer stores STARTED between ProgressReads' stream read and its status
 * read (what two processes do with no lock between them).
 */
class StatusesWithConsumerBetweenReads extends InMemoryProgressStatuses {
  beforeNextGet?: () => Promise<unknown>;
  override async get(taskId: string) {
    const step = this.beforeNextGet;
    this.beforeNextGet = undefined;
    await step?.();
    return super.get(taskId);
  }
}

describe('/status of an accepted order while its first step is being stored', () => {
  it('answers the task (ACCEPTED or STARTED), never "unknown" (404)', async () => {
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const statuses = new StatusesWithConsumerBetweenReads({ ttlMs: 86_400_000 });
    const processor = new OrderProcessor({
      store,
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs: 0,
    });
    const order: OrderPlaced = {
      taskId: 't-race',
      userId: 'ash',
      items: [{ sku: 'apple', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    // command-api: Kafka acknowledged, ACCEPTED recorded, 202 answered.
    await statuses.apply(acceptedProgressStatus(order));
    const reads = new ProgressReads(store, statuses);
    // The client polls statusUrl; its stream read finds nothing, then the consumer runs.
    statuses.beforeNextGet = () => processor.handle(order);
    const status = await reads.status('t-race', 'ash');
    expect(status).toBeDefined();
  });

  it('lists the task in /user while its first step is being stored', async () => {
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const statuses = new StatusesWithConsumerBetweenReads({ ttlMs: 86_400_000 });
    const processor = new OrderProcessor({
      store,
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs: 0,
    });
    const order: OrderPlaced = {
      taskId: 't-race-2',
      userId: 'ash',
      items: [{ sku: 'apple', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    await statuses.apply(acceptedProgressStatus(order));
    const reads = new ProgressReads(store, statuses);
    statuses.beforeNextGet = () => processor.handle(order);
    const page = await reads.ofUser('ash', { limit: 20 });
    expect(page.tasks.map((task) => task.taskId)).toEqual(['t-race-2']);
  });
});
