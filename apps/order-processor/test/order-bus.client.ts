import {
  contractsSerializer,
  ORDER_PLACED,
  type OrderPlaced,
  type ProgressEvent,
} from '@causeway/contracts';
import { createMessage } from '@causeway/cqrs-core';
import { kafkaConnection, KafkaPublisher } from '@causeway/cqrs-core/kafka';
import { RedisNotificationLog, RedisProgressStatuses } from '@causeway/platform';
import { serverAddress, type TestNamespace } from '@causeway/testkit';
import Redis from 'ioredis';

/** A notification as the log holds it. */
export type LoggedNotification = Awaited<
  ReturnType<RedisNotificationLog['read']>
>[number]['notification'];

/**
 * What an e2e test of order-processor sees of the system around it, on the real servers: it
 * places orders on the app's Kafka topic (as command-api does) and reads what the app tells —
 * the notification log the gateways follow and the statuses in Redis — under the app's
 * TOPIC_PREFIX (`<ns.id>.`).
 */
export interface OrderBusClient {
  readonly redis: Redis;
  readonly log: RedisNotificationLog;
  readonly statuses: RedisProgressStatuses;
  /**
   * Publishes the order to `<prefix>order-events-v2`, keyed by its task, with `metadata` added
   * to its envelope's (a `traceparent`, as command-api's orders carry the request's).
   */
  place(order: OrderPlaced, metadata?: Record<string, string>): Promise<void>;
  /** The log's `progress.update` notifications of one task, in log order. */
  notifications(taskId: string): Promise<LoggedNotification[]>;
  /**
   * Polls the task's `progress.update` events until `seen` holds for them, and returns them;
   * throws naming the task after `timeoutMs`.
   */
  progressUntil(
    taskId: string,
    seen: (events: ProgressEvent[]) => boolean,
    timeoutMs?: number,
  ): Promise<ProgressEvent[]>;
  close(): Promise<void>;
}

export async function openOrderBusClient(ns: TestNamespace): Promise<OrderBusClient> {
  const topicPrefix = `${ns.id}.`;
  const redis = new Redis(serverAddress('redis'));
  const log = new RedisNotificationLog({ client: redis, keyPrefix: `${topicPrefix}:` });
  const statuses = new RedisProgressStatuses({
    client: redis,
    keyPrefix: `${topicPrefix}:`,
    ttlMs: 86_400_000,
  });
  const kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: `test-${ns.id}` });
  await kafka.open();
  const publisher = new KafkaPublisher(kafka.client, { serializer: contractsSerializer() });
  const notifications = async (taskId: string) =>
    (await log.read(undefined, 10_000))
      .map((entry) => entry.notification)
      .filter((n) => n.method === 'progress.update' && n.params.taskId === taskId);
  return {
    redis,
    log,
    statuses,
    place: async (order, metadata = {}) => {
      const message = createMessage({
        type: ORDER_PLACED,
        data: order,
        category: 'event',
        aggregateId: order.taskId,
        causedBy: null,
      });
      await publisher.publish(`${topicPrefix}order-events-v2`, [
        { ...message, metadata: { ...message.metadata, ...metadata } },
      ]);
    },
    notifications,
    progressUntil: async (taskId, seen, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const events = (await notifications(taskId)).map(
          (n) => n.params as unknown as ProgressEvent,
        );
        if (seen(events)) return events;
        if (Date.now() > deadline) throw new Error(`task ${taskId}: not seen in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: async () => {
      await publisher.close();
      await kafka.close();
      redis.disconnect();
    },
  };
}
