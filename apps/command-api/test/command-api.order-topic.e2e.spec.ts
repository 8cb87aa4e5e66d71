import path from 'node:path';
import { ORDER_EVENTS_TOPIC } from '@causeway/contracts';
import { type ManagedConnection } from '@causeway/cqrs-core';
import { type KafkaClient, kafkaConnection } from '@causeway/cqrs-core/kafka';
import { TokenService } from '@causeway/platform';
import {
  removeNamespaceData,
  serverAddress,
  startServiceProcess,
  testNamespace,
  waitForStatus,
  type ServiceProcess,
} from '@causeway/testkit';

// The BUILT command-api against real Redis and Kafka: when its order is the first on the topic,
// it creates the topic with ORDER_TOPIC_PARTITIONS partitions, as order-processor does; it made
// 6 whatever the setting, and the topic kept them.
jest.setTimeout(90_000);
const ns = testNamespace('capitopic');
const secret = `jwt-${ns.id}-0123456789-0123456789`;
const tokens = new TokenService({ secret });
const topic = `${ns.id}${ORDER_EVENTS_TOPIC}`;

let api: ServiceProcess;
let kafka: ManagedConnection<KafkaClient>;

beforeAll(async () => {
  api = await startServiceProcess({
    appDir: path.join(__dirname, '..'),
    env: {
      REDIS_URL: serverAddress('redis'),
      KAFKA_BROKERS: serverAddress('kafka'),
      ADMIN_TOKEN: `admin-${ns.id}-0123456789`,
      JWT_SECRET: secret,
      TOPIC_PREFIX: ns.id,
      ORDER_TOPIC_PARTITIONS: '3',
    },
  });
  kafka = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('topic-reader') });
  await kafka.open();
  await waitForStatus(`${api.url}/health/ready`, 200, 30_000);
});

afterAll(async () => {
  await api?.stop('SIGKILL');
  await kafka?.close();
  await removeNamespaceData(ns, ['redis', 'kafka']);
});

it('creates the order topic with ORDER_TOPIC_PARTITIONS partitions', async () => {
  const { token } = await tokens.issue('ash', { trainerIds: [] });
  const response = await fetch(`${api.url}/api/v2/progress/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ items: [{ sku: 'potion', quantity: 1 }] }),
  });
  // Acknowledged by Kafka before the answer: the topic exists now.
  expect(response.status).toBe(202);
  const { topics } = await kafka.client.admin.fetchTopicMetadata({ topics: [topic] });
  expect(topics[0]!.partitions).toHaveLength(3);
});
