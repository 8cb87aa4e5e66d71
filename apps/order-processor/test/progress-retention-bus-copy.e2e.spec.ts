import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { contractsSerializer, ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import { createMessage } from '@causeway/cqrs-core';
import { kafkaConnection, KafkaPublisher } from '@causeway/cqrs-core/kafka';
import { RedisDeadLetterQueue } from '@causeway/cqrs-core/redis';
import { mongoConnection } from '@causeway/cqrs-core/mongodb';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';
import Redis from 'ioredis';

// README, PROGRESS_HISTORY_TTL_MS: "a task's history (its event-store stream) is hard-deleted,
// and its status expires in Redis, this long after its last event" (SPEC S3-7), and "Kafka
// carries the orders of the order and progress flow ... the trainer flow travels over Redis
// Streams". The deployment runs trainer-service and order-processor on one MONGODB_URI (the
// launcher, docker-compose): trainer-service's outbox forwarder then publishes every
// ProgressEvent order-processor stores to the Redis Streams bus (`events.ProgressEvent`), which
// no one reads and which only REDIS_STREAMS_MAX_LENGTH (100 000 per partition) trims — a copy of
// each task's history, with its userId, that outlives the retention. order-processor now keeps
// the histories in collections of their own (`progress_*`, ADR 015), and the trainer's outbox
// forwards only the trainer's events.
const ns = testNamespace('progressbuscopy');
const TOPIC_PREFIX = `${ns.id}.`;
const JWT_SECRET = `jwt-${ns.id}-0123456789-0123456789`;
const ADMIN_TOKEN = `admin-${ns.id}-0123456789`;
const tokens = new TokenService({ secret: JWT_SECRET });

describe('order-processor + trainer-service on one database: task histories expire everywhere', () => {
  let orders: ServiceProcess;
  let trainers: ServiceProcess;
  let redis: Redis;
  const kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: `test-${ns.id}` });
  const mongo = mongoConnection({ uri: ns.mongoUri(), serverSelectionTimeoutMs: 10_000 });
  let publisher: KafkaPublisher;

  beforeAll(async () => {
    const shared = {
      REDIS_URL: serverAddress('redis'),
      MONGODB_URI: ns.mongoUri(),
      ADMIN_TOKEN,
      TOPIC_PREFIX,
    };
    orders = await startServiceProcess({
      appDir: path.join(__dirname, '..'),
      env: {
        ...shared,
        KAFKA_BROKERS: serverAddress('kafka'),
        JWT_SECRET,
        ORDER_STEP_DELAY_MS: '0',
        // A short TTL, so retention runs within the test: above the longest a delivery may run
        // (2 attempts of 2000 ms and a 100 ms backoff), which order-processor requires.
        EVENT_TIMEOUT_MS: '2000',
        MAX_RETRIES: '1',
        PROGRESS_HISTORY_TTL_MS: '5000',
        PROGRESS_RETENTION_INTERVAL_MS: '500',
      },
    });
    trainers = await startServiceProcess({
      appDir: path.join(__dirname, '..', '..', 'trainer-service'),
      env: { ...shared, FORWARDER_POLL_INTERVAL_MS: '200', FORWARDER_LEASE_MS: '1000' },
    });
    await waitForStatus(`${orders.url}/health/ready`, 200, 60_000);
    await waitForStatus(`${trainers.url}/health/ready`, 200, 60_000);
    redis = new Redis(serverAddress('redis'));
    await kafka.open();
    await mongo.open();
    publisher = new KafkaPublisher(kafka.client, { serializer: contractsSerializer() });
  }, 120_000);

  afterAll(async () => {
    await publisher?.close();
    await kafka.close();
    await mongo.close();
    await trainers?.stop('SIGTERM');
    await orders?.stop('SIGTERM');
    redis?.disconnect();
    await removeNamespaceData(ns, ['mongodb', 'redis', 'kafka']);
  }, 60_000);

  /** Every entry of the bus streams of `events.ProgressEvent` that mentions `taskId`. */
  async function busCopies(taskId: string): Promise<string[]> {
    const found: string[] = [];
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(
        cursor,
        'MATCH',
        `${TOPIC_PREFIX}:${TOPIC_PREFIX}events.ProgressEvent:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    for (const key of keys) {
      if ((await redis.type(key)) !== 'stream') continue;
      for (const [, fields] of await redis.xrange(key, '-', '+'))
        if (fields.join(' ').includes(taskId)) found.push(key);
    }
    return found;
  }

  it('creates the order topic so that Kafka keeps no order past PROGRESS_HISTORY_TTL_MS', async () => {
    // The consumer creates the topic as the app starts (it was ready above), before this test
    // publishes: its settings are the app's. Kafka's default would keep orders for 7 days.
    const { resources } = await kafka.client.admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: 2,
          name: `${TOPIC_PREFIX}order-events-v2`,
          configNames: ['retention.ms', 'segment.ms'],
        },
      ],
    });
    const value = (name: string) =>
      Number(resources[0]?.configEntries.find((entry) => entry.configName === name)?.configValue);
    // A segment goes once its newest order is retention.ms old; it holds segment.ms of orders.
    expect(value('retention.ms') + value('segment.ms')).toBe(5000);
  });

  it('purges a dead-lettered order once it is PROGRESS_HISTORY_TTL_MS old, not before, and no letter of another topic', async () => {
    // The app's dead-letter queue: Redis, under the deployment's key prefix.
    const queue = new RedisDeadLetterQueue(redis, { keyPrefix: `${TOPIC_PREFIX}:` });
    const topic = `${TOPIC_PREFIX}order-events-v2`;
    const taskId = randomUUID();
    const letterOf = (originalTopic: string, age: number) => ({
      envelope: createMessage({
        type: ORDER_PLACED,
        data: { taskId, userId: 'ash', items: [{ sku: 'sku-apple', quantity: 1 }] },
        category: 'event',
        aggregateId: taskId,
        causedBy: null,
      }),
      originalTopic,
      position: '0:1',
      group: `${TOPIC_PREFIX}.order-processor.orders`,
      handler: 'orders',
      reason: 'MongoDB down',
      errorName: 'MongoServerSelectionError',
      attempts: 2,
      deadLetteredAt: new Date(Date.now() - age).toISOString(),
    });
    const old = await queue.add(letterOf(topic, 6_000));
    const young = await queue.add(letterOf(topic, 0));
    const other = await queue.add(letterOf(`${TOPIC_PREFIX}events.Other`, 6_000));
    const admin = async () =>
      (
        (await (
          await fetch(`${orders.url}/admin/dead-letters?topic=${topic}`, {
            headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
          })
        ).json()) as { letters: { id: string }[] }
      ).letters.map((letter) => letter.id);

    // Retention runs every 500 ms: the old letter goes, the young one stays within its TTL.
    const deadline = Date.now() + 30_000;
    while ((await admin()).includes(old)) {
      if (Date.now() > deadline) throw new Error('the old dead-lettered order was kept');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await admin()).toEqual([young]);
    expect((await queue.list()).map((letter) => letter.id).sort()).toEqual([other, young].sort());
    // One TTL after its dead-lettering, the young one goes too.
    while ((await admin()).includes(young)) {
      if (Date.now() > deadline) throw new Error('the dead-lettered order outlived its TTL');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await queue.list()).map((letter) => letter.id)).toEqual([other]);
    await queue.purge({ ids: [other] });
  }, 60_000);

  it('keeps no copy of an expired task on the Redis Streams bus nor in the notification log', async () => {
    const ash = (await tokens.issue('ash')).token;
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'sku-apple', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    await publisher.publish(`${TOPIC_PREFIX}order-events-v2`, [
      createMessage({
        type: ORDER_PLACED,
        data: order,
        category: 'event',
        aggregateId: order.taskId,
        causedBy: null,
      }),
    ]);
    const status = (url: string) =>
      fetch(`${orders.url}/api/v2/progress/status/${url}`, {
        headers: { Authorization: `Bearer ${ash}` },
      });

    // The order completes, then retention deletes its history (SPEC S3-7): /status is 404.
    const deadline = Date.now() + 60_000;
    let seenCompleted = false;
    for (;;) {
      const answer = await status(order.taskId);
      if (answer.status === 200)
        seenCompleted ||= ((await answer.json()) as { status: string }).status === 'COMPLETED';
      else await answer.body?.cancel();
      if (seenCompleted && answer.status === 404) break;
      if (Date.now() > deadline) throw new Error('the task was not completed and expired');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Give the outbox forwarder's rounds (every 200 ms here) time to have run.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    // The task's history is gone from the event store and the statuses: and from the bus?
    expect(await busCopies(order.taskId)).toEqual([]);
    // And from the notification log the gateways follow, which keeps its entries
    // NOTIFICATION_LOG_RETENTION_MS (24 h here, shared with the moves), not the task's TTL.
    const logged = await redis.xrange(`${TOPIC_PREFIX}:notifications`, '-', '+');
    expect(logged.filter(([, fields]) => fields.join(' ').includes(order.taskId))).toEqual([]);
    const published = await (await fetch(`${trainers.url}/metrics`)).text();
    expect(published).not.toMatch(/causeway_messages_published_total\{topic="[^"]*ProgressEvent"/);

    // The history was kept apart from the trainer's log, which its outbox, projection-worker's
    // catch-up and its retention read: nothing of the task ever was in `events_commits`.
    const db = mongo.client.db!;
    const streamId = `progress-${order.taskId}`;
    expect(await db.collection('events_commits').countDocuments({ streamId })).toBe(0);
    // Its commits stay in `progress_commits` as emptied stubs (commits are never deleted).
    expect(await db.collection('progress_commits').countDocuments({ streamId })).toBeGreaterThan(0);
  }, 120_000);
});
