import { contractsSerializer, type ProgressEvent } from '@causeway/contracts';
import { createMessage, InMemoryEventStore } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

// Retention's FAILED "expired" is told by the instance that stored it, and nothing tells it
// again: no Kafka delivery is pending for the task (its order was dead-lettered long ago). The
// expiry touched the retention index before its broadcast, so an instance killed (or losing
// Redis) between its append and its broadcast left the index up to date and the FAILED untold:
// the user's live stream never got it, and the status store (whose entry had expired with the
// TTL) never listed the task again before retention deleted it a TTL later.
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-25T10:00:00.000Z');

function event(step: number, eventType: ProgressEvent['eventType']): ProgressEvent {
  return {
    eventId: `t-1:${step}:${eventType}`,
    taskId: 't-1',
    userId: 'ash',
    currentStep: step,
    totalSteps: 4,
    percentage: step * 25,
    stepName: step === 0 ? 'started' : 'validate order',
    eventType,
    timestamp: new Date(T0 + step).toISOString(),
  };
}

describe('retention’s FAILED "expired" interrupted before its broadcast', () => {
  it('is told to the status store and the user by the next run', async () => {
    let clock = T0 + DAY + 1_000;
    const store = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    const notifications = new InMemoryNotificationLog();
    // The order stopped after its first step (dead-lettered) and was never replayed.
    for (const e of [event(0, 'STARTED'), event(1, 'PROGRESS')]) {
      await store.append(
        `progress-${e.taskId}`,
        [
          createMessage({
            type: 'ProgressEvent',
            data: e,
            category: 'event',
            aggregateId: e.taskId,
            messageId: e.eventId,
          }),
        ],
        { expectedVersion: 'any' },
      );
      await expiries.touch(e.taskId, Date.parse(e.timestamp));
    }

    /** One instance's processor and retention job over the shared stores. */
    const instance = (statuses: InMemoryProgressStatuses, errors: unknown[]) => {
      const processor = new OrderProcessor({
        store,
        statuses,
        notifications,
        rules: { catalog: {}, paymentLimitCents: 0 },
        serverId: 'op-1',
        now: () => new Date(clock),
        stepDelayMs: 0,
        onEvent: (e) => expiries.touch(e.taskId, Date.parse(e.timestamp)),
      });
      return new ProgressRetentionJob({
        store,
        expiries,
        expirer: processor,
        ttlMs: DAY,
        now: () => clock,
        onError: (error) => errors.push(error),
        onTaskError: (_taskId, error) => errors.push(error),
      });
    };

    // The first instance stores the FAILED "expired" and stops before its broadcast: its
    // status store fails from there (the process killed, or Redis gone).
    const statuses = new InMemoryProgressStatuses({ ttlMs: DAY, now: () => clock });
    const failing = new (class extends InMemoryProgressStatuses {
      override async apply(): Promise<boolean> {
        throw new Error('killed before the broadcast');
      }
    })({ ttlMs: DAY, now: () => clock });
    const errors: unknown[] = [];
    await instance(failing, errors).runOnce();
    expect(errors).toHaveLength(1);
    const stored = (await store.readStream('progress-t-1')).map((e) => e.data as ProgressEvent);
    expect(stored.map((e) => e.eventType)).toEqual(['STARTED', 'PROGRESS', 'FAILED']);

    // Restarted, its retention runs again a minute later.
    clock += 60_000;
    const after: unknown[] = [];
    await instance(statuses, after).runOnce();
    expect(after).toEqual([]);

    const failedNotified = (await notifications.read(undefined, 100))
      .map((entry) => entry.notification.params as ProgressEvent)
      .filter((e) => e.eventType === 'FAILED');
    expect({
      status: (await statuses.get('t-1'))?.status,
      listed: (await statuses.ofUser('ash')).map((s) => s.taskId),
      notified: failedNotified.map((e) => e.reason),
    }).toEqual({
      status: 'FAILED',
      listed: ['t-1'],
      notified: [stored[2]!.reason],
    });
  });
});
