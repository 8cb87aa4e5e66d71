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
 * host this topic-partition", which names neither the topic nor the messages (session 46). Then
 * the first publish after the deletion still failed, and only the caller's retry created the
 * topic again; so did the first publish to any other topic, the producer having met the deleted
 * one (session 48).
 */
describe('kafka: publishing to a topic deleted since the publisher created it', () => {
  const connection = useKafkaConnection(ns, 'puberr', {
    // kafkajs retries UNKNOWN_TOPIC_OR_PARTITION: keep its retries short.
    config: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 } },
  });
  const options: KafkaTransportOptions = { serializer: conformanceSerializer(), partitions: 1 };
  const high = async (topic: string) =>
    (await connection().client.admin.fetchTopicOffsets(topic)).map((p) => Number(p.high));

  async function deleteTopic(topic: string): Promise<void> {
    const { admin } = connection().client;
    await admin.deleteTopics({ topics: [topic] });
    await eventually(async () => !(await admin.listTopics()).includes(topic), 'the deletion');
  }

  it('creates the topic again and writes the batch at the first publish after the deletion', async () => {
    const publisher = new KafkaPublisher(connection().client, options);
    try {
      const topic = ns.topic('gone');
      await publisher.publish(topic, [conformanceMessage(1, 'k')]); // creates the topic
      await deleteTopic(topic);

      await publisher.publish(topic, [conformanceMessage(2, 'k'), conformanceMessage(3, 'k')]);

      expect(await high(topic)).toEqual([2]);
    } finally {
      await publisher.close();
    }
  });

  it('publishes to its other topics at the first try after one of them was deleted', async () => {
    const publisher = new KafkaPublisher(connection().client, options);
    try {
      const gone = ns.topic('met-gone');
      const kept = ns.topic('met-kept');
      await publisher.publish(gone, [conformanceMessage(1, 'k')]);
      await publisher.publish(kept, [conformanceMessage(2, 'k')]);
      await deleteTopic(gone);

      await publisher.publish(kept, [conformanceMessage(3, 'k')]);
      const fresh = ns.topic('met-fresh');
      await publisher.publish(fresh, [conformanceMessage(4, 'k')]);

      expect(await high(kept)).toEqual([2]);
      expect(await high(fresh)).toEqual([1]);
    } finally {
      await publisher.close();
    }
  });
});

/**
 * Session 49: the first publish after the deletion waited for kafkajs's retries of the refused
 * send (5 with `kafkaConnection`'s defaults: ~3 s; ~1.3 s under jest, where kafkajs grows the
 * delays by 1.5 instead of 2) before the publisher created the topic again, although the
 * broker's first answer already said the topic was gone. Measured here with those defaults, the
 * time from the publish to its resolving, the topic deleted beforehand: 1.69 and 1.70 s before,
 * 119 to 142 ms after (three runs).
 */
describe('kafka: the first publish after its topic was deleted, with the default retries', () => {
  const connection = useKafkaConnection(ns, 'puberr-default');
  const options: KafkaTransportOptions = { serializer: conformanceSerializer(), partitions: 1 };

  it('resolves well before kafkajs would have given up on the send', async () => {
    const { admin } = connection().client;
    const publisher = new KafkaPublisher(connection().client, options);
    try {
      const topic = ns.topic('gone-timed');
      await publisher.publish(topic, [conformanceMessage(1, 'k')]); // creates the topic
      await admin.deleteTopics({ topics: [topic] });
      await eventually(async () => !(await admin.listTopics()).includes(topic), 'the deletion');

      const started = performance.now();
      await publisher.publish(topic, [conformanceMessage(2, 'k')]);
      const took = performance.now() - started;

      expect((await admin.fetchTopicOffsets(topic)).map((p) => Number(p.high))).toEqual([1]);
      expect(took).toBeLessThan(1_000);
    } finally {
      await publisher.close();
    }
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
