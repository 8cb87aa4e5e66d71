import { contractsSerializer, ORDER_PLACED, type ProgressEvent } from '@causeway/contracts';
import {
  createMessage,
  InMemoryDeadLetterQueue,
  MessageFactory,
  SerializerRegistry,
  StreamDeletedError,
} from '@causeway/cqrs-core';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { InMemoryNotificationLog, InMemoryProgressStatuses } from '@causeway/platform';
import { dyingAtStrip, removeNamespaceData, testNamespace } from '@causeway/testkit';
import Redis from 'ioredis';
import { z } from 'zod';
import { OrderProcessor } from '../src/orders/order.processor';
import { ProgressRetentionJob } from '../src/retention/progress-retention.job';
import { RedisTaskExpiries } from '../src/retention/task-expiries';
import { expirerOf } from './retention.expirer';

const ns = testNamespace('opretention');
const DAY = 86_400_000;

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
    stepName: 'validate order',
    eventType,
    timestamp: new Date(at).toISOString(),
  };
}

/** Stores `e` as the first event of its task's stream, as OrderProcessor stores a step. */
function storeFirst(writer: MongoEventStore, e: ProgressEvent) {
  return writer.append(
    `progress-${e.taskId}`,
    [
      createMessage({
        type: 'ProgressEvent',
        data: e,
        category: 'event',
        aggregateId: e.taskId,
        messageId: e.eventId,
        metadata: { timestamp: e.timestamp },
      }),
    ],
    { expectedVersion: 0 },
  );
}

describe('ProgressRetentionJob on FerretDB and Redis (S3-7)', () => {
  const mongo = mongoConnection({ uri: ns.mongoUri(), serverSelectionTimeoutMs: 10_000 });
  const redis = new Redis(ns.redisUrl, { lazyConnect: true });
  let store: MongoEventStore;

  /**
   * The store of an earlier release whose schema let a percentage be fractional: what it wrote
   * the current schema refuses, so that task's stream no longer decodes (a schema change).
   */
  async function earlierStore(): Promise<MongoEventStore> {
    const earlier = new MongoEventStore({
      connection: mongo.client,
      serializer: new SerializerRegistry().register(
        'ProgressEvent',
        z.object({ eventId: z.string(), taskId: z.string(), percentage: z.number() }).loose(),
      ),
    });
    await earlier.init();
    return earlier;
  }

  beforeAll(async () => {
    await mongo.open();
    await redis.connect();
    store = new MongoEventStore({ connection: mongo.client, serializer: contractsSerializer() });
    await store.init();
  }, 60_000);

  afterAll(async () => {
    await mongo.close();
    redis.disconnect();
    await removeNamespaceData(ns, ['mongodb', 'redis']);
  }, 60_000);

  it('hard-deletes a finished task stream whose last event is older than the TTL, ends an unfinished one FAILED, keeps a young one', async () => {
    const now = Date.now();
    const expiries = new RedisTaskExpiries(redis, { keyPrefix: ns.keyPrefix });
    for (const [taskId, at, type] of [
      ['old', now - DAY - 1_000, 'COMPLETED'],
      ['stuck', now - DAY - 1_000, 'PROGRESS'],
      ['young', now - 1_000, 'PROGRESS'],
    ] as const) {
      const e = event(taskId, 1, at, type);
      await storeFirst(store, e);
      await expiries.touch(taskId, at);
    }
    const statuses = new InMemoryProgressStatuses({ ttlMs: DAY });
    const expirer = new OrderProcessor({
      store,
      statuses,
      notifications: new InMemoryNotificationLog(),
      rules: { catalog: {}, paymentLimitCents: 0 },
      serverId: 'op-1',
      now: () => new Date(),
      stepDelayMs: 0,
      onEvent: (e) => expiries.touch(e.taskId, Date.parse(e.timestamp)),
    });
    const job = new ProgressRetentionJob({ store, expiries, expirer, ttlMs: DAY });
    expect(await job.runOnce()).toEqual({
      deleted: 1,
      expired: 1,
      deadLetters: 0,
      failed: 0,
      skipped: 0,
    });
    expect(
      (await store.readStream('progress-stuck')).map((e) => (e.data as ProgressEvent).eventType),
    ).toEqual(['PROGRESS', 'FAILED']);
    expect(await statuses.get('stuck')).toMatchObject({ status: 'FAILED' });
    expect(await store.readStream('progress-old')).toEqual([]);
    expect((await store.streamInfo('progress-old')).state).toBe('tombstoned');
    expect(await store.readStream('progress-young')).toHaveLength(1);
    await expect(
      store.append(
        'progress-old',
        [
          createMessage({
            type: 'ProgressEvent',
            data: event('old', 2, now),
            category: 'event',
            aggregateId: 'old',
          }),
        ],
        { expectedVersion: 'any' },
      ),
    ).rejects.toBeInstanceOf(StreamDeletedError);
    expect(await expiries.due(now + 1, 10)).toEqual(['young']);
    expect(await expiries.due(Date.now() + 1, 10)).toEqual(['young', 'stuck']);
    await job.stop();
  });

  it('finishes the delete of a task whose instance was killed between the tombstone and the strip', async () => {
    const now = Date.now();
    const expiries = new RedisTaskExpiries(redis, { keyPrefix: `${ns.keyPrefix}killed:` });
    const e = event('cut', 1, now - DAY - 1_000, 'COMPLETED');
    await storeFirst(store, e);
    await expiries.touch('cut', Date.parse(e.timestamp));
    const retention = (eventStore: MongoEventStore) =>
      new ProgressRetentionJob({
        store: eventStore,
        expiries,
        expirer: expirerOf(eventStore),
        ttlMs: DAY,
        // The restarted instance's run comes after an interval: what the dying one could not
        // retire (its store stopped answering) is due again by then.
        intervalMs: 1,
        onError: () => undefined,
      });

    // The first instance dies as its delete strips the events (after the tombstone and the
    // stream's new first version were written): its connection answers nothing from there.
    const dying = new MongoEventStore({
      connection: dyingAtStrip(mongo.client),
      serializer: contractsSerializer(),
    });
    await dying.init();
    expect(await retention(dying).runOnce()).toEqual({
      deleted: 0,
      expired: 0,
      deadLetters: 0,
      failed: 1,
      skipped: 0,
    });
    expect((await store.streamInfo('progress-cut')).state).toBe('tombstoned');

    // Restarted, its retention runs again: the user's history is gone from the log too.
    await retention(store).runOnce();
    const left = (await store.readAll({ fromPosition: 0, limit: 10_000 })).filter(
      (stored) => stored.streamId === 'progress-cut',
    );
    expect(left).toEqual([]);
    expect(await expiries.due(Date.now() + 1, 10)).toEqual([]);
  });
  it('goes on with the other tasks when one cannot be retired, reports it and tries it again later', async () => {
    const now = Date.now();
    const expiries = new RedisTaskExpiries(redis, { keyPrefix: `${ns.keyPrefix}stuckhead:` });
    // Written by an earlier release whose schema let a percentage be fractional: the current
    // one refuses it, so the task's stream no longer decodes (a schema change, a bad write).
    const earlier = await earlierStore();
    const undecodable = {
      ...event('undecodable', 1, now - 3 * DAY, 'COMPLETED'),
      percentage: 33.3,
    };
    const fine = event('fine', 4, now - 2 * DAY, 'COMPLETED');
    for (const [writer, e] of [
      [earlier, undecodable],
      [store, fine],
    ] as const) {
      await storeFirst(writer, e);
      await expiries.touch(e.taskId, Date.parse(e.timestamp));
    }
    const failures: string[] = [];
    const runErrors: unknown[] = [];
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: expirerOf(store),
      ttlMs: DAY,
      intervalMs: 60_000,
      onError: (error) => runErrors.push(error),
      onTaskError: (taskId) => failures.push(taskId),
    });
    // The oldest due task fails at every run: the ones behind it are still deleted.
    expect(await job.runOnce()).toEqual({
      deleted: 1,
      expired: 0,
      deadLetters: 0,
      failed: 1,
      skipped: 0,
    });
    expect({ runErrors, failures }).toEqual({ runErrors: [], failures: ['undecodable'] });
    expect(await store.readStream('progress-fine')).toEqual([]);
    // Tried again about an interval later, not at once (the run ended, it did not spin).
    expect(await expiries.due(now - DAY, 10)).toEqual([]);
    expect(await expiries.due(now - DAY + 120_000, 10)).toEqual(['undecodable']);
    await job.stop();
  });

  it('goes on with the tasks and the other dead letters when the order of one letter cannot be ended, keeping that letter', async () => {
    const now = Date.now();
    const expiries = new RedisTaskExpiries(redis, { keyPrefix: `${ns.keyPrefix}stuckletter:` });
    // Dead-lettered half-way by an earlier release whose schema let a percentage be fractional:
    // its stream no longer decodes, so reading it to know whether the order started throws.
    const earlier = await earlierStore();
    const fine = event('letter-fine', 4, now - 2 * DAY, 'COMPLETED');
    for (const [writer, e] of [
      [earlier, { ...event('letter-undecodable', 1, now - 3 * DAY), percentage: 33.3 }],
      [store, fine],
    ] as const) {
      await storeFirst(writer, e);
    }
    await expiries.touch(fine.taskId, Date.parse(fine.timestamp));
    const queue = new InMemoryDeadLetterQueue({ serializer: contractsSerializer() });
    const topic = 'order-events-v2';
    for (const taskId of ['letter-undecodable', 'letter-unstarted'])
      await queue.add({
        envelope: new MessageFactory().event(
          ORDER_PLACED,
          {
            taskId,
            userId: 'ash',
            items: [{ sku: 'apple', quantity: 1 }],
            placedAt: new Date(now - 3 * DAY).toISOString(),
          },
          { aggregateId: taskId },
        ),
        originalTopic: topic,
        position: '0:1',
        group: 'order-processor.orders',
        handler: 'orders',
        reason: 'MongoDB down',
        errorName: 'MongoServerSelectionError',
        attempts: 4,
        deadLetteredAt: new Date(now - 2 * DAY).toISOString(),
      });
    const failures: string[] = [];
    const runErrors: unknown[] = [];
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: expirerOf(store),
      deadLetters: { queue, topic },
      ttlMs: DAY,
      onError: (error) => runErrors.push(error),
      onTaskError: (taskId) => failures.push(taskId),
    });
    // The letter that cannot be looked at is reported and kept (tried again at the next run);
    // the other letter's order is ended and purged, and the due task is still deleted.
    expect(await job.runOnce()).toEqual({
      deleted: 1,
      expired: 1,
      deadLetters: 1,
      failed: 1,
      skipped: 0,
    });
    expect({ runErrors, failures }).toEqual({ runErrors: [], failures: ['letter-undecodable'] });
    expect(await store.readStream('progress-letter-fine')).toEqual([]);
    expect((await queue.list()).map((l) => l.envelope?.aggregateId)).toEqual([
      'letter-undecodable',
    ]);
    await job.stop();
  });
});
