import {
  contractsSerializer,
  ORDER_PLACED,
  type OrderPlaced,
  PROGRESS_UPDATE_METHOD,
} from '@causeway/contracts';
import {
  createMessage,
  InMemoryDeadLetterQueue,
  InMemoryEventStore,
  MessageFactory,
} from '@causeway/cqrs-core';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { OrderProcessor } from '../orders/order.processor';
import { ProgressRetentionJob, unstartedReason } from './progress-retention.job';
import { InMemoryTaskExpiries } from './task-expiries';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-25T12:00:00.000Z');
const TOPIC = 'order-events-v2';

const orderOf = (taskId: string): OrderPlaced => ({
  taskId,
  userId: 'ash',
  items: [{ sku: 'apple', quantity: 1 }],
  placedAt: new Date(NOW - DAY - 120_000).toISOString(),
});

/**
 * An order dead-lettered before its first step was stored (MongoDB down through every attempt)
 * and never replayed has no stream: retention purged its letter one TTL after, and its ACCEPTED
 * status expired with the TTL — /status 404, as for an order never placed. The user, who had a
 * 202, was never told it failed: an acknowledged order vanished (what session 39 fixed for a
 * task stopped half-way).
 */
describe('ProgressRetentionJob: an order dead-lettered before its first step', () => {
  async function setup() {
    const serializer = contractsSerializer();
    const store = new InMemoryEventStore({ serializer });
    const expiries = new InMemoryTaskExpiries();
    const notifications = new InMemoryNotificationLog();
    const statuses = new InMemoryProgressStatuses({ ttlMs: DAY, now: () => NOW });
    const queue = new InMemoryDeadLetterQueue({ serializer });
    const processor = new OrderProcessor({
      store,
      statuses,
      notifications,
      rules: { catalog: { apple: { stock: 5, priceCents: 100 } }, paymentLimitCents: 10_000 },
      serverId: 'op-1',
      now: () => new Date(NOW),
      stepDelayMs: 0,
      onEvent: (e) => expiries.touch(e.taskId, Date.parse(e.timestamp)),
    });
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: processor,
      notifications,
      deadLetters: { queue, topic: TOPIC },
      ttlMs: DAY,
      now: () => NOW,
      onError: (error) => {
        throw error;
      },
    });
    const deadLetter = (order: OrderPlaced, age: number) =>
      queue.add({
        envelope: new MessageFactory().event(ORDER_PLACED, order, { aggregateId: order.taskId }),
        originalTopic: TOPIC,
        position: '0:1',
        group: 'order-processor.orders',
        handler: 'orders',
        reason: 'MongoDB down',
        errorName: 'MongoServerSelectionError',
        attempts: 4,
        deadLetteredAt: new Date(NOW - age).toISOString(),
      });
    return { store, statuses, notifications, queue, processor, job, deadLetter };
  }

  it('ends it FAILED, told to its user, before its letter is purged; a started one is left to its stream', async () => {
    const { store, statuses, notifications, queue, processor, job, deadLetter } = await setup();
    await deadLetter(orderOf('never-started'), DAY + 60_000);
    // Started, then dead-lettered: its own stream's retention ends it (not this path).
    const started = orderOf('started');
    await store.append(
      'progress-started',
      [
        createMessage({
          type: 'ProgressEvent',
          data: {
            eventId: 'started:0:STARTED',
            taskId: 'started',
            userId: 'ash',
            currentStep: 0,
            totalSteps: 4,
            percentage: 0,
            stepName: 'started',
            eventType: 'STARTED',
            timestamp: new Date(NOW - 1_000).toISOString(),
          },
          category: 'event',
          aggregateId: 'started',
          messageId: 'started:0:STARTED',
        }),
      ],
      { expectedVersion: 'no-stream' },
    );
    await deadLetter(started, DAY + 60_000);
    // No order (a producer's bug): nothing to end, purged as before.
    await queue.add({
      envelope: createMessage({
        type: ORDER_PLACED,
        data: { taskId: 'no-user' },
        category: 'event',
        aggregateId: 'no-user',
      }),
      originalTopic: TOPIC,
      position: '0:2',
      group: 'order-processor.orders',
      handler: 'orders',
      reason: 'data refused',
      errorName: 'ValidationError',
      attempts: 1,
      deadLetteredAt: new Date(NOW - DAY - 60_000).toISOString(),
    });
    // Dead-lettered within the TTL (after the others, as letters are): may still be replayed,
    // left alone.
    await deadLetter(orderOf('young'), 60_000);

    expect(await job.runOnce()).toEqual({
      deleted: 0,
      expired: 1,
      deadLetters: 3,
      failed: 0,
      skipped: 0,
    });
    expect(await store.readStream('progress-no-user')).toEqual([]);

    const stored = (await store.readStream('progress-never-started')).map((e) => e.data);
    expect(stored).toEqual([
      expect.objectContaining({
        eventId: 'never-started:0:EXPIRED',
        eventType: 'FAILED',
        currentStep: 0,
        percentage: 0,
        reason: unstartedReason(DAY),
      }),
    ]);
    expect(await statuses.get('never-started')).toMatchObject({
      status: 'FAILED',
      eventCount: 1,
      reason: unstartedReason(DAY),
    });
    const sent = (await notifications.read(undefined, 100)).map((e) => e.notification);
    expect(sent).toEqual([
      expect.objectContaining({
        targetType: 'user',
        targetIds: ['ash'],
        method: PROGRESS_UPDATE_METHOD,
        notificationId: 'progress:never-started:0:EXPIRED',
      }),
    ]);
    expect(await store.readStream('progress-started')).toHaveLength(1);
    expect(await store.readStream('progress-young')).toEqual([]);
    expect((await queue.list()).map((l) => (l.envelope!.data as OrderPlaced).taskId)).toEqual([
      'young',
    ]);
    // A late replay of it finds the task finished and stores nothing.
    expect(await processor.handle(orderOf('never-started'))).toMatchObject({ appended: 0 });
  });
});
