import { setTimeout as sleep } from 'node:timers/promises';
import { contractsSerializer, type OrderPlaced, type ProgressEvent } from '@causeway/contracts';
import {
  ConcurrencyConflictError,
  InMemoryEventStore,
  loadConfiguration,
} from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { orderProcessorConfiguration } from '../config/order-processor.config';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

// Nothing related PROGRESS_HISTORY_TTL_MS to ORDER_STEP_DELAY_MS. With a TTL not longer than
// the pause between two steps, retention found every running order "unfinished and idle for a
// TTL" during a pause and ended it FAILED "expired": no order could complete.
const required = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  MONGODB_URI: 'mongodb://127.0.0.1:27017/causeway',
  JWT_SECRET: 'order-processor-unit-secret-0123456789',
  ADMIN_TOKEN: 'admin-0123456789-abcdef',
};

describe('a running order and a TTL shorter than its step pause', () => {
  it('refuses a PROGRESS_HISTORY_TTL_MS that is not longer than ORDER_STEP_DELAY_MS', () => {
    expect(() =>
      loadConfiguration(orderProcessorConfiguration, {
        ...required,
        PROGRESS_HISTORY_TTL_MS: '1000',
        ORDER_STEP_DELAY_MS: '2000',
      }),
    ).toThrow(/PROGRESS_HISTORY_TTL_MS/);
  });

  it('a healthy order, running its steps, is not ended FAILED "expired" by retention', async () => {
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    const processor = new OrderProcessor({
      store,
      statuses: new InMemoryProgressStatuses({ ttlMs: 100 }),
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs: 200,
      onEvent: (event) => expiries.touch(event.taskId, Date.parse(event.timestamp)),
    });
    const retention = new ProgressRetentionJob({ store, expiries, expirer: processor, ttlMs: 100 });
    const order: OrderPlaced = {
      taskId: 't-run',
      userId: 'ash',
      items: [{ sku: 'apple', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    const running = processor.handle(order);
    await sleep(150); // within the pause after STARTED; a retention run comes
    await retention.runOnce();
    // The consumer retries a ConcurrencyConflictError: the retry reads what is stored.
    const outcome = await running.catch(async (error: unknown) => {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
      return processor.handle(order);
    });
    const stored = (await store.readStream('progress-t-run')).map((e) => e.data as ProgressEvent);
    expect({ status: outcome.status?.status, last: stored.at(-1)?.reason }).toEqual({
      status: 'COMPLETED',
      last: undefined,
    });
  });
});
