import { contractsSerializer, type OrderPlaced, type ProgressEvent } from '@causeway/contracts';
import { type EventStore, InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from './order.processor';
import { progressLogOptions } from './progress-log.options';

// A delivery told every stored event of its task again before going on, relying on the log to
// drop the ids it had (a crash between an append and its broadcast). The log remembers ids for
// NOTIFICATION_LOG_RETENTION_MS only: a replay of a dead-lettered order (the runbook allows one
// within PROGRESS_HISTORY_TTL_MS, which may be longer) re-sent the task's old steps to the
// user's live stream as new `progress` events — the page's bar went back to 0 % and climbed
// again. Only a task's last stored event can be untold (every writer tells an event before
// it appends the next one), so only that one is told again — and the log, as order-processor
// keeps it (progressLogOptions), remembers that event's id for the TTL: told once already,
// it is not sent again (session 43).
const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const order: OrderPlaced = {
  taskId: 't-1',
  userId: 'ash',
  items: [{ sku: 'apple', quantity: 2 }],
  placedAt: new Date(T0).toISOString(),
};

describe('a redelivery later than the notification log remembers', () => {
  it('sends the user no step again: only the steps it stores', async () => {
    let clock = T0;
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const statuses = new InMemoryProgressStatuses({ ttlMs: 24 * HOUR, now: () => clock });
    const notifications = new InMemoryNotificationLog({
      ...progressLogOptions({
        NOTIFICATION_LOG_MAX_LENGTH: 10_000,
        NOTIFICATION_LOG_RETENTION_MS: HOUR,
        PROGRESS_HISTORY_TTL_MS: 24 * HOUR,
      }),
      now: () => clock,
    });
    const processor = (eventStore: EventStore) =>
      new OrderProcessor({
        store: eventStore,
        statuses,
        notifications,
        rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
        serverId: 'op-1',
        now: () => new Date(clock),
        stepDelayMs: 0,
      });

    // The order stored STARTED and 'validate order', then MongoDB went away: dead-lettered.
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'append')
          return async (...args: Parameters<EventStore['append']>) => {
            if ((await target.readStream('progress-t-1')).length >= 2)
              throw new Error('mongodb down');
            return target.append(...args);
          };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as EventStore;
    await expect(processor(failing).handle(order)).rejects.toThrow('mongodb down');
    const before = (await notifications.read(undefined, 100)).length;
    expect(before).toBe(2);

    // Replayed from the dead letters two hours later.
    clock = T0 + 2 * HOUR;
    const outcome = await processor(store).handle(order);
    expect(outcome.status?.status).toBe('COMPLETED');

    const sent = (await notifications.read(undefined, 100))
      .map((entry) => entry.notification.params as ProgressEvent)
      .map((e) => `${e.eventType} ${e.percentage}`);
    // What a live client following the log now sees: the replay's steps. The last stored one
    // was told again (a crash may have left it untold), and the log knew it: STARTED and 25 %
    // were shown two hours ago.
    expect(sent).toEqual(['PROGRESS 50', 'PROGRESS 75', 'COMPLETED 100']);
  });
});
