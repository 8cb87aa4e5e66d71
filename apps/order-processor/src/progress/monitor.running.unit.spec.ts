import { contractsSerializer, type OrderPlaced, progressStreamId } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import {
  InMemoryNotificationLog,
  InMemoryProgressStatuses,
  TokenService,
} from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderConsumer } from '../orders/order.consumer';
import { OrderMetrics } from '../orders/order.metrics';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressAuth } from './progress.auth';
import { ProgressController } from './progress.controller';
import { ProgressReads } from './progress.reads';

/**
 * GET /monitor's `tasksByStatus.running`: the orders this instance is running now. It was
 * STARTED − COMPLETED − FAILED as counted here since the start, which an order started by
 * another process (before a restart, or on the partition's previous owner) and finished here
 * took below the truth: an instance running an order said it ran none.
 */
describe('GET /monitor: the orders running on this instance', () => {
  const secret = 'a-test-secret-that-is-long-enough-123';
  const tokens = new TokenService({ secret });
  const store = new InMemoryEventStore({ serializer: contractsSerializer() });
  const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000 });
  const rules = { catalog: { tea: { stock: 5, priceCents: 300 } }, paymentLimitCents: 10_000 };

  function processor(metrics: OrderMetrics, stepDelayMs: number): OrderProcessor {
    return new OrderProcessor({
      store,
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules,
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs,
      onEvent: (event, stored) => {
        if (stored) metrics.stored(event);
      },
    });
  }

  function order(taskId: string): OrderPlaced {
    return {
      taskId,
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date(Date.now() - 1_000).toISOString(),
    };
  }

  it('counts the order it is running after it finished one another process had started', async () => {
    // The process before a restart stored the first order's STARTED, and stopped.
    const before = processor(new OrderMetrics(new Registry()), 10);
    await expect(before.handle(order('t-a'), AbortSignal.abort())).rejects.toThrow();
    expect(await store.readStream(progressStreamId('t-a'))).toHaveLength(1);

    const registry = new Registry();
    const metrics = new OrderMetrics(registry);
    const here = processor(metrics, 100);
    metrics.countRunning(() => here.runningOrders());
    // The redelivery finishes it here, then the next order starts and waits for its next step.
    await here.handle(order('t-a'));
    const aborting = new AbortController();
    const running = here.handle(order('t-b'), aborting.signal).catch(() => undefined);
    const deadline = Date.now() + 2_000;
    while ((await store.readStream(progressStreamId('t-b'))).length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));

    const controller = new ProgressController(
      new ProgressAuth(tokens, {}),
      // The order group as the consumer would name it, and its lag: not what this test is about.
      { group: 'order-processor.orders', lag: async () => 0 } as unknown as OrderConsumer,
      {
        reads: new ProgressReads(store, statuses),
        metrics,
        instanceId: 'op-1',
        topic: 'order-events-v2',
        ready: () => Promise.resolve(),
        running: () => here.runningOrders(),
      },
    );
    const { token } = await tokens.issue('ash');
    try {
      const monitor = await controller.monitor({
        headers: { authorization: `Bearer ${token}` },
        socket: {},
      });
      expect(monitor.tasksByStatus).toEqual({ running: 1, completed: 1, failed: 0 });
      // The same figure for Prometheus, which sums every instance's.
      expect(await registry.getSingleMetricAsString('causeway_orders_running')).toMatch(
        /^causeway_orders_running 1$/m,
      );
    } finally {
      aborting.abort();
      await running;
    }
  });
});
