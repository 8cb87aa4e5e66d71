import {
  contractsSerializer,
  PROGRESS_UPDATE_METHOD,
  type ProgressEvent,
  progressNotificationId,
} from '@causeway/contracts';
import { createMessage, InMemoryEventStore, StreamDeletedError } from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-25T12:00:00.000Z');

function event(
  taskId: string,
  step: number,
  at: number,
  eventType: ProgressEvent['eventType'] = 'PROGRESS',
): ProgressEvent {
  return {
    eventId: `${taskId}:${step}:${eventType}`,
    taskId,
    userId: 'ash',
    currentStep: step,
    totalSteps: 4,
    percentage: step * 25,
    stepName: 'check stock',
    eventType,
    timestamp: new Date(at).toISOString(),
  };
}

/** The job over `events`, ending unfinished tasks through a real OrderProcessor. */
function retentionOf(
  events: InMemoryEventStore,
  expiries: InMemoryTaskExpiries,
  at = NOW,
  notifications = new InMemoryNotificationLog(),
) {
  const statuses = new InMemoryProgressStatuses({ ttlMs: DAY, now: () => at });
  const processor = new OrderProcessor({
    store: events,
    statuses,
    notifications,
    rules: { catalog: {}, paymentLimitCents: 0 },
    serverId: 'op-1',
    now: () => new Date(at),
    stepDelayMs: 0,
    onEvent: (e) => expiries.touch(e.taskId, Date.parse(e.timestamp)),
  });
  const job = new ProgressRetentionJob({
    store: events,
    expiries,
    expirer: processor,
    notifications,
    ttlMs: DAY,
    now: () => at,
    onError: (error) => {
      throw error;
    },
  });
  return { job, statuses };
}

async function store(
  events: ProgressEvent[],
  into: InMemoryEventStore,
  expiries: InMemoryTaskExpiries,
) {
  for (const e of events) {
    await into.append(
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
}

describe('ProgressRetentionJob (S3-7)', () => {
  it('hard-deletes the finished streams whose last event is older than the TTL, whole, and keeps the others', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store(
      [
        event('old', 1, NOW - DAY - 60_000),
        event('old', 4, NOW - DAY - 1, 'COMPLETED'),
        // Started more than a day ago, last step within it: kept, STARTED and all.
        event('straddles', 1, NOW - DAY - 5),
        event('straddles', 2, NOW - DAY + 5),
        event('young', 1, NOW - 1_000),
      ],
      events,
      expiries,
    );
    const { job } = retentionOf(events, expiries);
    expect(await job.runOnce()).toEqual({
      deleted: 1,
      expired: 0,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(await events.readStream('progress-old')).toEqual([]);
    expect(await events.readStream('progress-straddles')).toHaveLength(2);
    expect(await events.readStream('progress-young')).toHaveLength(1);
    // Tombstoned: a redelivered order of the expired task cannot write its history again.
    await expect(
      events.append(
        'progress-old',
        [
          createMessage({
            type: 'ProgressEvent',
            data: event('old', 3, NOW),
            category: 'event',
            aggregateId: 'old',
          }),
        ],
        {
          expectedVersion: 'any',
        },
      ),
    ).rejects.toBeInstanceOf(StreamDeletedError);
    expect(await expiries.due(NOW, 10)).toEqual(['straddles', 'young']);
    await job.stop();
  });

  it('moves a task forward instead of deleting it when its stream has a newer event than the index knew', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store([event('t', 1, NOW - 2 * DAY)], events, expiries);
    // Stored by another instance whose index write was lost.
    await events.append(
      'progress-t',
      [
        createMessage({
          type: 'ProgressEvent',
          data: event('t', 2, NOW - 10),
          category: 'event',
          aggregateId: 't',
          messageId: 't:2:PROGRESS',
        }),
      ],
      { expectedVersion: 1 },
    );
    const { job } = retentionOf(events, expiries);
    expect(await job.runOnce()).toEqual({
      deleted: 0,
      expired: 0,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(await events.readStream('progress-t')).toHaveLength(2);
    expect(await expiries.due(NOW - DAY, 10)).toEqual([]);
  });

  it('ends an old unfinished task FAILED "expired" instead of deleting it, and deletes it a TTL later', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store([event('stuck', 1, NOW - DAY - 1)], events, expiries);
    const { job, statuses } = retentionOf(events, expiries);
    expect(await job.runOnce()).toEqual({
      deleted: 0,
      expired: 1,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    const stored = (await events.readStream('progress-stuck')).map((e) => e.data as ProgressEvent);
    expect(stored.map((e) => e.eventType)).toEqual(['PROGRESS', 'FAILED']);
    expect(await statuses.get('stuck')).toMatchObject({
      status: 'FAILED',
      reason: 'expired: no step for 24 h (PROGRESS_HISTORY_TTL_MS); the order was not completed',
    });
    // Due again one TTL after its FAILED, when it is deleted as any finished task.
    expect(await expiries.due(NOW + 1, 10)).toEqual(['stuck']);
    expect(await expiries.due(NOW, 10)).toEqual([]);
  });

  it("removes a deleted task's progress notifications from the notification log: no copy of its history outlives the TTL", async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    const old = [event('old', 1, NOW - DAY - 60_000), event('old', 4, NOW - DAY - 1, 'COMPLETED')];
    const young = event('young', 1, NOW - 1_000);
    await store([...old, young], events, expiries);
    // A log kept longer than PROGRESS_HISTORY_TTL_MS (NOTIFICATION_LOG_RETENTION_MS, shared
    // with the moves): the task's notifications, as OrderProcessor appends them, are still in it.
    const log = new InMemoryNotificationLog({ now: () => NOW, retentionMs: 7 * DAY });
    for (const e of [...old, young])
      await log.append({
        notificationId: progressNotificationId(e.eventId),
        targetType: 'user',
        targetIds: [e.userId],
        method: PROGRESS_UPDATE_METHOD,
        params: { ...e },
        serverId: 'op-1',
      });
    const { job } = retentionOf(events, expiries, NOW, log);
    expect(await job.runOnce()).toEqual({
      deleted: 1,
      expired: 0,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    const left = await log.read(undefined, 10);
    expect(left.map((entry) => (entry.notification.params as ProgressEvent).eventId)).toEqual([
      young.eventId,
    ]);
  });

  it('stores one FAILED and deletes once when two instances run at the same time', async () => {
    const events = new InMemoryEventStore({ serializer: contractsSerializer() });
    const expiries = new InMemoryTaskExpiries();
    await store([event('stuck', 1, NOW - DAY - 1)], events, expiries);
    const a = retentionOf(events, expiries).job;
    const b = retentionOf(events, expiries).job;
    const first = await Promise.all([a.runOnce(), b.runOnce()]);
    // Counted once: the instance whose append found the FAILED stored did not store it.
    expect(first.reduce((sum, run) => sum + run.expired, 0)).toBe(1);
    const stored = (await events.readStream('progress-stuck')).map((e) => e.data as ProgressEvent);
    expect(stored.map((e) => e.eventType)).toEqual(['PROGRESS', 'FAILED']);
    const later = (ms: number) => retentionOf(events, expiries, NOW + ms).job;
    const second = await Promise.all([later(DAY + 1).runOnce(), later(DAY + 1).runOnce()]);
    expect(second.reduce((sum, run) => sum + run.deleted, 0)).toBeGreaterThanOrEqual(1);
    expect(await events.readStream('progress-stuck')).toEqual([]);
    expect(await expiries.due(Infinity, 10)).toEqual([]);
  });
});
