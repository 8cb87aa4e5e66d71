import { randomUUID } from 'node:crypto';
import { ORDER_PLACED, type OrderPlaced } from '@causeway/contracts';
import { createMessage } from '@causeway/cqrs-core';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { kafkaOrderReplays } from '../src/orders/kafka-order.source';
import { orderEventsTopic } from '../src/orders/order.topic';

const ns = testNamespace('orderreplays');
jest.setTimeout(30_000);

/**
 * The publisher /admin/dead-letters replays orders through creates the order topic when the
 * broker does not have it (deleted since, or never made by the consumer): it created it with
 * Kafka's defaults — no retention, so orders (a user and their items) stayed for the broker's
 * 7 days past PROGRESS_HISTORY_TTL_MS (S3-7), and 6 partitions whatever ORDER_TOPIC_PARTITIONS
 * said (session 46). It must create it as the consumer does.
 */
describe("order-processor's replay publisher", () => {
  const kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('replays') });
  beforeAll(() => kafka.open());
  afterAll(async () => {
    await kafka.close();
    await removeNamespaceData(ns, ['kafka']);
  });

  it('creates the order topic with ORDER_TOPIC_PARTITIONS and the history TTL as retention', async () => {
    const topic = orderEventsTopic(`${ns.id}.`);
    const replays = kafkaOrderReplays(kafka, { partitions: 2, retentionMs: 3_600_000 });
    const order: OrderPlaced = {
      taskId: randomUUID(),
      userId: 'ash',
      items: [{ sku: 'tea', quantity: 1 }],
      placedAt: new Date().toISOString(),
    };
    try {
      await replays.publish(topic, [
        createMessage({
          type: ORDER_PLACED,
          data: order,
          category: 'event',
          aggregateId: order.taskId,
          causedBy: null,
        }),
      ]);
    } finally {
      await replays.close();
    }

    const { admin } = kafka.client;
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]!.partitions).toHaveLength(2);
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['retention.ms'] }],
    });
    const retention = resources[0]!.configEntries.find((e) => e.configName === 'retention.ms');
    // kafkaTopicConfig: retention.ms + segment.ms (an eighth) = retentionMs.
    expect(Number(retention!.configValue)).toBe(3_600_000 - 450_000);
  });
});
