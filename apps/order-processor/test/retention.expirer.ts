import { type EventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../src/orders/order.processor';

const DAY = 86_400_000;

/** The retention job's expirer in tests: an order-processor of `store` with nothing else to do. */
export function expirerOf(store: EventStore): OrderProcessor {
  return new OrderProcessor({
    store,
    statuses: new InMemoryProgressStatuses({ ttlMs: DAY }),
    notifications: new InMemoryNotificationLog(),
    rules: { catalog: {}, paymentLimitCents: 0 },
    serverId: 'op-1',
    now: () => new Date(),
    stepDelayMs: 0,
  });
}
