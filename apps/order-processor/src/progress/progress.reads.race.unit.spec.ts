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

/**
 * An accepted order (command-api recorded it ACCEPTED after Kafka's ack) whose reads are set so
 * that the consumer stores its first step between their stream read and their status read.
 */
async function acceptedOrderRacingItsFirstStep(taskId: string): Promise<ProgressReads> {
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
    taskId,
    userId: 'ash',
    items: [{ sku: 'apple', quantity: 1 }],
    placedAt: new Date().toISOString(),
  };
  await statuses.apply(acceptedProgressStatus(order));
  statuses.beforeNextGet = () => processor.handle(order);
  return new ProgressReads(store, statuses);
}

describe('/status of an accepted order while its first step is being stored', () => {
  it('answers the task (ACCEPTED or STARTED), never "unknown" (404)', async () => {
    const reads = await acceptedOrderRacingItsFirstStep('t-race');
    await expect(reads.status('t-race', 'ash')).resolves.toBeDefined();
  });

  it('lists the task in /user while its first step is being stored', async () => {
    const reads = await acceptedOrderRacingItsFirstStep('t-race-2');
    const page = await reads.ofUser('ash', { limit: 20 });
    expect(page.tasks.map((task) => task.taskId)).toEqual(['t-race-2']);
  });
});
