import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { testNamespace } from '../src';

// Proves KAFKA_BROKERS points at a real Kafka broker with working consumer groups.
describe('Kafka broker (smoke)', () => {
  const ns = testNamespace('kafka');
  const topic = ns.topic('orders');
  const kafka = new Kafka({
    clientId: ns.name('smoke'),
    brokers: ns.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  let producer: Producer;
  let consumer: Consumer;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    producer = kafka.producer();
    await producer.connect();
    consumer = kafka.consumer({ groupId: ns.name('group') });
    await consumer.connect();
  });
  afterAll(async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers produced messages to a consumer group and commits its offsets', async () => {
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    const allReceived = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(`${message.key?.toString()}=${message.value?.toString()}`);
          if (received.length === 3) resolve();
        },
      });
    });

    await producer.send({
      topic,
      messages: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'a', value: '3' },
      ],
    });
    await allReceived;

    expect(received.sort()).toEqual(['a=1', 'a=3', 'b=2']);
    // kafkajs commits at the end of each batch, just after the last eachMessage resolved:
    // the broker reports the group's committed offsets (3 messages over 2 partitions) shortly.
    const committed = async () => {
      const offsets = await admin.fetchOffsets({ groupId: ns.name('group'), topics: [topic] });
      return offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    };
    const deadline = Date.now() + 10_000;
    while ((await committed()) < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await committed()).toBe(3);
  });
});
