import { contractsSerializer, ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import {
  type HealthProbe,
  InMemoryBroker,
  InMemoryDeadLetterQueue,
  InMemoryEventStore,
  MessageFactory,
} from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { Registry } from 'prom-client';
import { OrderConsumer } from './order.consumer';
import { OrderMetrics } from './order.metrics';
import { OrderProcessor } from './order.processor';
import { inMemoryOrderSource } from './order.source';

const TOPIC = 'order-events-v2';

/**
 * The stores failing to initialise once at start (MongoDB restarting while order-processor
 * starts: the event store's createIndexes cut mid-way). `ready` is asked again by the next
 * caller (the module's contract); the consumer must ask again too, or it never starts: orders
 * wait in Kafka until someone restarts the process, while the runbook says to fix MongoDB.
 */
describe('OrderConsumer when the stores fail to initialise at first', () => {
  it('asks `ready` again until it succeeds, then consumes the orders waiting', async () => {
    const serializer = contractsSerializer();
    const broker = new InMemoryBroker({ serializer });
    const store = new InMemoryEventStore({ serializer });
    const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000 });
    const processor = new OrderProcessor({
      store,
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs: 0,
    });
    let asked = 0;
    const probes: HealthProbe[] = [];
    const consumer = new OrderConsumer(
      {
        service: 'order-processor',
        instanceId: 'op-1',
        source: inMemoryOrderSource(broker),
        topic: TOPIC,
        processor,
        metrics: new OrderMetrics(new Registry()),
        maxAttempts: 1,
        handlerTimeoutMs: 5_000,
        ready: async () => {
          asked++;
          if (asked === 1) throw new Error('connection 7 closed during createIndexes');
        },
      },
      new InMemoryDeadLetterQueue({ serializer }),
      probes,
    );
    const order: OrderPlaced = {
      taskId: 't-ready',
      userId: 'ash',
      items: [{ sku: 'apple', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    try {
      consumer.onApplicationBootstrap();
      await broker.publish(TOPIC, [
        new MessageFactory().event(ORDER_PLACED, order, { aggregateId: order.taskId }),
      ]);
      const probe = probes.find((p) => p.name === 'order-consumer')!;
      const deadline = Date.now() + 5_000;
      while ((await statuses.get('t-ready'))?.status !== 'COMPLETED' && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(asked).toBeGreaterThanOrEqual(2);
      expect(await statuses.get('t-ready')).toMatchObject({ status: 'COMPLETED' });
      await expect(probe.check()).resolves.toBeUndefined();
    } finally {
      await consumer.beforeApplicationShutdown();
      await broker.close();
    }
  });
});
