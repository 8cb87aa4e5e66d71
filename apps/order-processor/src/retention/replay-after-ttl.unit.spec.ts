import { contractsSerializer, type OrderPlaced, type ProgressEvent } from '@causeway/contracts';
import { type EventStore, InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { Registry } from 'prom-client';
import { reportExpiredOrder } from '../orders/expired-order.report';
import { OrderMetrics } from '../orders/order.metrics';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

// Review (session 39): the runbook "A user's order does not progress" step 3 says a
// dead-lettered order replayed through order-processor "resumes after the last stored step".
// An order dead-lettered after its first steps and replayed once PROGRESS_HISTORY_TTL_MS had
// passed since its last step (a weekend) was silently dropped: retention hard-deleted the
// half-done stream, the replay met the tombstone and OrderProcessor answered "done" — no step,
// no FAILED, no notification, and the replay removed the dead letter. Retention now ends such a
// task FAILED "expired" (the user is told), deletes it one TTL later, and a delivery that meets
// a deleted task is logged and counted.
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-25T10:00:00.000Z');
const rules = { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 };

function orderOf(taskId: string): OrderPlaced {
  return {
    taskId,
    userId: 'ash',
    items: [{ sku: 'apple', quantity: 1 }],
    placedAt: new Date(T0).toISOString(),
  };
}

function setup() {
  let clock = T0;
  const inner = new InMemoryEventStore({ serializer: contractsSerializer() });
  let appends = 0;
  // MongoDB fails from the third append on for a day (the order is retried, then dead-lettered).
  const failing = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append')
        return (...args: Parameters<EventStore['append']>) => {
          if (++appends >= 3 && clock < T0 + DAY) return Promise.reject(new Error('mongodb down'));
          return target.append(...args);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as EventStore;
  const expiries = new InMemoryTaskExpiries();
  const statuses = new InMemoryProgressStatuses({ ttlMs: DAY, now: () => clock });
  const notifications = new InMemoryNotificationLog();
  const metrics = new OrderMetrics(new Registry());
  const warnings: string[] = [];
  const processorOn = (store: EventStore) =>
    new OrderProcessor({
      store,
      statuses,
      notifications,
      rules,
      serverId: 'op-1',
      now: () => new Date(clock),
      stepDelayMs: 0,
      onEvent: (event) => expiries.touch(event.taskId, Date.parse(event.timestamp)),
      onExpired: reportExpiredOrder({
        metrics,
        logger: { warn: (line) => void warnings.push(line) },
        historyTtlMs: DAY,
      }),
    });
  const processor = processorOn(failing);
  const retention = new ProgressRetentionJob({
    store: inner,
    expiries,
    expirer: processor,
    ttlMs: DAY,
    now: () => clock,
  });
  return {
    inner,
    statuses,
    notifications,
    metrics,
    warnings,
    processor,
    healthy: processorOn(inner),
    retention,
    at: (ms: number) => void (clock = ms),
  };
}

async function history(store: EventStore, taskId: string): Promise<ProgressEvent[]> {
  return (await store.readStream(`progress-${taskId}`)).map((e) => e.data as ProgressEvent);
}

describe('an order replayed after the history TTL (ADR 015, session 39)', () => {
  it('ends a half-done dead-lettered task FAILED "expired", told to the user, and deletes a finished one', async () => {
    const { inner, statuses, notifications, processor, healthy, retention, at } = setup();
    // A finished order of the same morning: deleted a day later, as before.
    at(T0 - 60_000);
    expect((await healthy.handle(orderOf('done'))).status?.status).toBe('COMPLETED');
    at(T0);
    // Delivered: STARTED and 'validate order' stored, then MongoDB fails: dead-lettered.
    await expect(processor.handle(orderOf('t-1'))).rejects.toThrow('mongodb down');
    expect(await history(inner, 't-1')).toHaveLength(2);

    // The operator fixes MongoDB and replays the letter the day after (the runbook's step 3).
    at(T0 + DAY + 60_000);
    expect(await retention.runOnce()).toEqual({
      deleted: 1,
      expired: 1,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(await history(inner, 'done')).toEqual([]);

    const reason =
      'expired: no step for 24 h (PROGRESS_HISTORY_TTL_MS); the order was not completed';
    const events = await history(inner, 't-1');
    expect(events.map((e) => e.eventType)).toEqual(['STARTED', 'PROGRESS', 'FAILED']);
    expect(events[2]).toMatchObject({
      stepName: 'check stock',
      currentStep: 2,
      percentage: 25,
      reason,
      timestamp: new Date(T0 + DAY + 60_000).toISOString(),
    });
    // The user's status and live stream say so: it is not a silent loss.
    expect(await statuses.get('t-1')).toMatchObject({ status: 'FAILED', reason, eventCount: 3 });
    const sent = (await notifications.read(undefined, 100)).map((entry) => entry.notification);
    expect(sent.at(-1)).toMatchObject({
      notificationId: 'progress:t-1:2:EXPIRED',
      targetIds: ['ash'],
      params: { eventType: 'FAILED', reason },
    });

    // The replay finds the task ended and stores nothing more.
    expect(await processor.handle(orderOf('t-1'))).toMatchObject({
      status: { status: 'FAILED', reason },
      appended: 0,
    });
    // A second run (or another instance) changes nothing until the FAILED is a TTL old.
    expect(await retention.runOnce()).toEqual({
      deleted: 0,
      expired: 0,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(await history(inner, 't-1')).toHaveLength(3);
  });

  it('deletes the expired task one TTL later; a replay after that is logged and counted', async () => {
    const { inner, metrics, warnings, processor, retention, at } = setup();
    at(T0);
    await expect(processor.handle(orderOf('t-1'))).rejects.toThrow('mongodb down');
    at(T0 + DAY + 60_000);
    expect(await retention.runOnce()).toEqual({
      deleted: 0,
      expired: 1,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    at(T0 + 2 * DAY + 120_000);
    expect(await retention.runOnce()).toEqual({
      deleted: 1,
      expired: 0,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(await history(inner, 't-1')).toEqual([]);

    expect(await processor.handle(orderOf('t-1'))).toEqual({ status: undefined, appended: 0 });
    expect(warnings).toEqual([
      expect.stringMatching(
        /^order t-1 not run: its history was deleted by retention, PROGRESS_HISTORY_TTL_MS \(86400000 ms\)/,
      ),
    ]);
    expect((await metrics.expired.get()).values[0]?.value).toBe(1);
  });
});
