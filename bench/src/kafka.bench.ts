import { randomBytes } from 'node:crypto';
import { kafkaConnection, KafkaPublisher, KafkaSubscriber } from '@causeway/cqrs-core/kafka';
import { type Servers } from './servers';
import { abba, progress, ratioRow, type Report } from './stats';
import { Counter, messages, scaled, serializer, until } from './transport.common';

/**
 * Issue 4: Kafka consume with a no-op handler against a raw kafkajs `eachMessage` loop on the
 * same topic, partitions and messages, each side with a fresh consumer and group.
 */
export async function kafkaConsume(servers: Servers, report: Report): Promise<void> {
  const id = randomBytes(4).toString('hex');
  const topic = `bench.${id}.consume`;
  const warmTopic = `bench.${id}.warm`;
  const connection = kafkaConnection({ brokers: servers.kafkaBrokers, clientId: `bench-${id}` });
  await connection.open();
  const { kafka, admin } = connection.client;
  const partitions = 6;
  const publisher = new KafkaPublisher(connection.client, { serializer, partitions });
  const subscriber = new KafkaSubscriber(connection.client, {
    serializer,
    partitions,
    groupIdPrefix: `bench.${id}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
  });
  const groups: string[] = [];
  try {
    const n = scaled(20_000);
    progress(`transport kafka consume: filling ${n} messages (and as many to warm up on)`);
    const all = messages(n);
    for (const into of [warmTopic, topic])
      for (let b = 0; b < n; b += 500) await publisher.publish(into, all.slice(b, b + 500));

    const rawConsume = async (from = topic): Promise<number> => {
      const groupId = `bench.${id}.raw${groups.length}`;
      groups.push(groupId);
      const consumer = kafka.consumer({ groupId });
      const counter = new Counter(n);
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [from], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            JSON.parse(message.value?.toString() ?? 'null');
            counter.hit();
          },
        });
        await until(() => counter.done, 60_000, 'the raw kafkajs consumer');
      } finally {
        await consumer.disconnect();
      }
      return counter.rate;
    };
    const oursConsume = async (from = topic): Promise<number> => {
      const group = `cw${groups.length}`;
      groups.push(`bench.${id}.${group}`);
      const counter = new Counter(n);
      const handle = await subscriber.subscribe([from], { group, consumer: 'c1' }, async () => {
        counter.hit();
      });
      try {
        await until(() => counter.done, 60_000, 'the causeway kafka consumer');
      } finally {
        await handle.close();
      }
      return counter.rate;
    };
    // Warm-up (connections, JIT, heap sizes, the broker's page cache) on another topic, as the
    // other suites: each side consumes it once, with a fresh consumer and group.
    progress('transport kafka consume: warm-up');
    await rawConsume(warmTopic);
    await oursConsume(warmTopic);
    progress('transport kafka consume: raw eachMessage vs causeway (fresh consumer each)');
    const result = await abba(
      () => rawConsume(),
      () => oursConsume(),
    );
    report.table('Kafka consume vs raw kafkajs eachMessage loop', [
      ratioRow(
        `consume, no-op handler, ${partitions} partitions`,
        result.ours,
        result.raw,
        'msgs/s',
        0.5,
      ),
    ]);
  } finally {
    await subscriber.close().catch(() => undefined);
    await publisher.close().catch(() => undefined);
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: [warmTopic, topic] }).catch(() => undefined);
    await connection.close();
  }
}
