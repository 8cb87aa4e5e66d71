import { freePort, testNamespace } from '@causeway/testkit';
import {
  kafkaConnection,
  KafkaPublishError,
  KafkaPublisher,
  type KafkaTransportOptions,
} from '../src/kafka';
import { conformanceMessage, conformanceSerializer } from '../src/testing';
import { eventually, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkapuberr');

jest.setTimeout(60_000);

/**
 * A topic deleted after the publisher created it (an operator's clean-up, a broker that lost its
 * data): every publish to it failed for as long as the process lived — the publisher remembered
 * the topic as created and never created it again — each with kafkajs's "This server does not
 * host this topic-partition", which names neither the topic nor the messages (session 46).
 */
describe('kafka: publishing to a topic deleted since the publisher created it', () => {
  const connection = useKafkaConnection(ns, 'puberr', {
    // kafkajs retries UNKNOWN_TOPIC_OR_PARTITION: keep its retries short.
    config: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } },
  });
  let publisher: KafkaPublisher;
  const options: KafkaTransportOptions = { serializer: conformanceSerializer(), partitions: 1 };

  beforeAll(() => {
    publisher = new KafkaPublisher(connection().client, options);
  });
  afterAll(async () => {
    await publisher.close();
  });

  it('rejects naming the topic and the messages, then creates the topic again', async () => {
    const { admin } = connection().client;
    const topic = ns.topic('gone');
    await publisher.publish(topic, [conformanceMessage(1, 'k')]); // creates the topic
    await admin.deleteTopics({ topics: [topic] });
    await eventually(async () => !(await admin.listTopics()).includes(topic), 'the deletion');
    const lost = [conformanceMessage(2, 'k'), conformanceMessage(3, 'k')];

    const error = await publisher.publish(topic, lost).then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );

    expect(error).toBeInstanceOf(KafkaPublishError);
    expect(error!.message).toContain(`topic "${topic}"`);
    expect(error!.message).toContain(`${lost[0]!.messageId} (+1 more)`);
    expect(error!.message).toContain('does not host this topic-partition');
    expect((error as KafkaPublishError).topic).toBe(topic);
    expect((error!.cause as Error).name).toMatch(/^KafkaJS/);

    // The next publish (the caller's retry) creates the topic again and is written.
    await publisher.publish(topic, lost);
    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends.map(({ high }) => Number(high))).toEqual([2]);
  });
});

/**
 * A review (session 47): a publisher whose producer could not connect rejected with kafkajs's
 * own error ("Connection error: connect ECONNREFUSED …" or "Connection timeout"), naming neither
 * the topic nor the messages, and not always the broker; the send's other failures did.
 */
describe('kafka: publishing while no broker answers', () => {
  it('rejects with KafkaPublishError naming the topic, the messages and the brokers', async () => {
    const broker = `127.0.0.1:${await freePort()}`; // nothing listens there
    const connection = kafkaConnection({
      brokers: [broker],
      clientId: ns.name('nobroker'),
      config: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } },
    });
    const publisher = new KafkaPublisher(connection.client, {
      serializer: conformanceSerializer(),
    });
    const topic = ns.topic('unreachable');
    const message = conformanceMessage(1, 'k');
    try {
      const error = await publisher.publish(topic, [message]).then(
        () => undefined,
        (failure: unknown) => failure as Error,
      );
      expect(error).toBeInstanceOf(KafkaPublishError);
      expect(error!.message).toContain(`topic "${topic}"`);
      expect(error!.message).toContain(message.messageId);
      expect(error!.message).toContain(broker);
    } finally {
      await publisher.close();
      await connection.close();
    }
  });
});
