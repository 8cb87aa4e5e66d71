import net from 'node:net';
import { InMemoryDeadLetterQueue } from '@causeway/cqrs-core';
import { kafkaConnection } from '@causeway/cqrs-core/kafka';
import { testNamespace } from '@causeway/testkit';
import { Registry } from 'prom-client';
import { kafkaOrderSource } from '../src/orders/kafka-order.source';

const ns = testNamespace('oplag');

function source(brokers: string[]) {
  const kafka = kafkaConnection({ brokers, clientId: `${ns.id}-lag` });
  const factory = kafkaOrderSource({
    kafka,
    groupIdPrefix: `${ns.id}.`,
    partitions: 1,
    retentionMs: 86_400_000,
    sessionTimeoutMs: 10_000,
    registry: new Registry(),
  });
  const orders = factory({
    topic: ns.topic('orders'),
    group: 'order-processor.orders',
    deadLetters: new InMemoryDeadLetterQueue(),
    onError: () => undefined,
  });
  return { kafka, orders };
}

// GET /api/v2/progress/monitor's `consumerLag` is this source's lag(): "null when Kafka cannot
// tell" (its /docs-json). A broker that does not answer must make it null soon, not hold the
// read for as long as kafkajs retries (12 s and more).
describe('kafkaOrderSource: the order group lag of GET /monitor', () => {
  it('counts the orders the group has not taken, from the real Kafka', async () => {
    const { kafka, orders } = source(ns.kafkaBrokers);
    await kafka.open();
    try {
      const topic = ns.topic('orders');
      await kafka.client.admin.createTopics({
        topics: [{ topic, numPartitions: 1 }],
        waitForLeaders: true,
      });
      const producer = kafka.client.kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
      await producer.disconnect();
      expect(await orders.lag()).toBe(3);
      await kafka.client.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    } finally {
      await kafka.close();
    }
  }, 30_000);

  it('answers undefined (null in /monitor) within about 2 s while the broker does not answer', async () => {
    // A broker that accepts connections and never answers (hung, or its host overloaded).
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const { kafka, orders } = source([`127.0.0.1:${port}`]);
    try {
      const started = Date.now();
      const lag = await orders.lag();
      const tookMs = Date.now() - started;
      expect({ lag, answeredInTime: tookMs < 3_000 }).toEqual({
        lag: undefined,
        answeredInTime: true,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await kafka.close().catch(() => undefined);
    }
  }, 60_000);
});
