import { testNamespace } from '@causeway/testkit';
import { type ManagedConnection } from '../src';
import { type KafkaClient, kafkaConnection, KafkaPublisher, KafkaSubscriber } from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import { removeKafkaNamespace, topicConfig } from './kafka.helpers';

const ns = testNamespace('kafkaretain');

jest.setTimeout(60_000);

/**
 * Topics whose records carry data with a lifetime (an order's user and items, SPEC S3-7) were
 * created with Kafka's default retention, 7 days (a review, session 40): `retentionMs` bounds
 * how long any record of a topic the transport creates is kept, on the real broker.
 */
describe('kafka: retentionMs of the topics the transport creates', () => {
  let connection: ManagedConnection<KafkaClient>;

  beforeAll(async () => {
    connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('retain') });
    await connection.open();
  });
  afterAll(async () => {
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  it('sets retention.ms and segment.ms so that no record outlives it', async () => {
    const topic = ns.topic('orders');
    const publisher = new KafkaPublisher(connection.client, {
      serializer: conformanceSerializer(),
      retentionMs: 86_400_000,
    });
    try {
      await publisher.publish(topic, [conformanceMessage(1, 'k')]);
    } finally {
      await publisher.close();
    }
    const admin = connection.client.admin;
    const retention = await topicConfig(admin, topic, 'retention.ms');
    const segment = await topicConfig(admin, topic, 'segment.ms');
    expect(retention).toEqual({ value: String(86_400_000 - 10_800_000), explicit: true });
    expect(segment).toEqual({ value: String(10_800_000), explicit: true });
  });

  it('refuses a retentionMs that is not an integer of at least 8, naming it', () => {
    for (const retentionMs of [0, 7, 1.5, Number.NaN]) {
      expect(
        () =>
          new KafkaSubscriber(connection.client, {
            serializer: conformanceSerializer(),
            retentionMs,
          }),
      ).toThrow(/retentionMs must be an integer of at least 8/);
    }
  });
});
