import { contractsSerializer, type OrderPlaced, type ProgressEvent } from '@causeway/contracts';
import { type EventStore, InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { Registry } from 'prom-client';
import { OrderMetrics } from '../orders/order.metrics';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

// Retention's FAILED "expired" once had the id of the task's next step's FAILED
// (`<taskId>:<step>:FAILED`). When the order's own next step failed for its own reason (payment
// refused) at the same step, a replay's append of that FAILED met retention's stored one and was
// taken as an idempotent no-op (same messageId): OrderProcessor ignored the empty `positions`,
// told its own FAILED (its reason) to the status store and the user, and counted it — while the
// stored history said "expired". One FAILED was counted on two instances.
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
// The order's total (2 x 100) is over the payment limit: it fails at 'process payment'.
const rules = { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 150 };
const order: OrderPlaced = {
  taskId: 't-1',
  userId: 'ash',
  items: [{ sku: 'apple', quantity: 2 }],
  placedAt: new Date(T0).toISOString(),
};

describe('a replay racing retention’s FAILED "expired" at the same step', () => {
  it('does not tell the user (nor count) a FAILED that was not stored', async () => {
    let clock = T0;
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const statuses = new InMemoryProgressStatuses({ ttlMs: DAY, now: () => clock });
    const notifications = new InMemoryNotificationLog();
    const expiries = new InMemoryTaskExpiries();
    const metricsA = new OrderMetrics(new Registry());
    const metricsB = new OrderMetrics(new Registry());

    // Instance B: its retention (and its processor as the expirer).
    let bStored!: () => void;
    const bAppended = new Promise<void>((resolve) => (bStored = resolve));
    let releaseB!: () => void;
    const aDone = new Promise<void>((resolve) => (releaseB = resolve));
    const processorB = new OrderProcessor({
      store,
      statuses,
      notifications,
      rules,
      serverId: 'op-b',
      now: () => new Date(clock),
      stepDelayMs: 0,
      onEvent: async (event, stored) => {
        if (stored) metricsB.stored(event);
        await expiries.touch(event.taskId, Date.parse(event.timestamp));
        if (stored && event.eventType === 'FAILED') {
          bStored();
          await aDone; // B's broadcast comes a moment after A's
        }
      },
    });
    const retentionB = new ProgressRetentionJob({
      store,
      expiries,
      expirer: processorB,
      ttlMs: DAY,
      now: () => clock,
    });

    // Instance A: the replay. Its append of the FAILED happens while B's retention runs.
    let runB: Promise<unknown> | undefined;
    const storeA = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'append')
          return async (...args: Parameters<EventStore['append']>) => {
            const data = args[1][0]!.data as ProgressEvent;
            if (data.eventType === 'FAILED' && !runB) {
              runB = retentionB.runOnce();
              await bAppended;
            }
            return target.append(...args);
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as EventStore;
    const processorA = new OrderProcessor({
      store: storeA,
      statuses,
      notifications,
      rules,
      serverId: 'op-a',
      now: () => new Date(clock),
      stepDelayMs: 0,
      onEvent: async (event, stored) => {
        if (stored) metricsA.stored(event);
        await expiries.touch(event.taskId, Date.parse(event.timestamp));
      },
    });

    // The order ran STARTED, 'validate order', 'check stock' and was dead-lettered (MongoDB
    // down) before 'process payment': stored here by a run that stops after three events.
    const head = new OrderProcessor({
      store: new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'append')
            return async (...args: Parameters<EventStore['append']>) => {
              if ((await target.readStream('progress-t-1')).length >= 3)
                throw new Error('mongodb down');
              return target.append(...args);
            };
          const value = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as EventStore,
      statuses,
      notifications,
      rules,
      serverId: 'op-a',
      now: () => new Date(clock),
      stepDelayMs: 0,
      onEvent: (event) => expiries.touch(event.taskId, Date.parse(event.timestamp)),
    });
    await expect(head.handle(order)).rejects.toThrow('mongodb down');

    // The replay comes just as the TTL has passed; B's retention runs meanwhile.
    clock = T0 + DAY + 1_000;
    const outcome = await processorA.handle(order);
    releaseB();
    await runB;

    const stored = (await store.readStream('progress-t-1')).map((e) => e.data as ProgressEvent);
    expect(stored.map((e) => e.eventType)).toEqual(['STARTED', 'PROGRESS', 'PROGRESS', 'FAILED']);
    const storedReason = stored[3]!.reason!;
    expect(storedReason).toMatch(/^expired: /);

    // What the user is told (status store, the live notification) and the replay's outcome say
    // what is stored; the one FAILED stored is counted once across the instances.
    const failedSent = (await notifications.read(undefined, 100))
      .map((entry) => entry.notification)
      .filter((n) => (n.params as ProgressEvent).eventType === 'FAILED');
    expect({
      statusStore: (await statuses.get('t-1'))?.reason,
      notified: failedSent.map((n) => (n.params as ProgressEvent).reason),
      outcome: outcome.status?.reason,
      failedCounted: (await metricsA.byType()).FAILED + (await metricsB.byType()).FAILED,
    }).toEqual({
      statusStore: storedReason,
      notified: [storedReason],
      outcome: storedReason,
      failedCounted: 1,
    });
  });
});
