import { Kafka, logLevel } from 'kafkajs';
import { testNamespace } from '@causeway/testkit';
import { type Delivery } from '../src';
import { kafkaLag, KafkaPublisher, KafkaSubscriber } from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, quickConsumer, useKafkaConnection } from './kafka.helpers';

const ns = testNamespace('kafkadeleted');

jest.setTimeout(60_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;

/**
 * A review (session 47): kafkajs's admin client keeps every topic it was asked about (offsets,
 * watermarks, metadata) and asks for all of them at each metadata refresh; once an operator
 * deleted one of them (kafka-topics.sh --delete, another client), every refresh failed with
 * "This server does not host this topic-partition". The connection's shared admin then could
 * not create any other topic (every new publisher topic and subscription failed), nor read
 * anyone's lag or attempt markers, until the process restarted.
 */
describe('kafka: a topic deleted by another client', () => {
  const connection = useKafkaConnection(ns, 'deleted');
  const operator = new Kafka({
    clientId: ns.name('operator'),
    brokers: ns.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const options = quickConsumer(ns, 1);

  it('leaves the shared admin working for every other topic', async () => {
    const { admin } = connection().client;
    const gone = ns.topic('gone');
    const kept = ns.topic('kept');
    const publisher = new KafkaPublisher(connection().client, options);
    const second = new KafkaPublisher(connection().client, options);
    const subscriber = new KafkaSubscriber(connection().client, options);
    const got: number[] = [];
    try {
      await publisher.publish(gone, [conformanceMessage(1, 'k')]);
      await publisher.publish(kept, [conformanceMessage(2, 'k')]);
      const group = `${ns.id}.g`;
      await kafkaLag(admin, [{ group, topics: [gone, kept] }]); // the admin has met both topics
      const operatorAdmin = operator.admin();
      await operatorAdmin.connect();
      try {
        await operatorAdmin.deleteTopics({ topics: [gone] });
      } finally {
        await operatorAdmin.disconnect();
      }
      await eventually(async () => !(await admin.listTopics()).includes(gone), 'the deletion');

      // A new topic is still created, published to and consumed; the lag of the other still read.
      // (A new publisher, so that only the shared admin is under test: the first one's producer
      // met the deleted topic too — kafka.publish-error.int.spec.ts.)
      const fresh = ns.topic('fresh');
      await second.publish(fresh, [conformanceMessage(3, 'k')]);
      await subscriber.subscribe([fresh], { group: 'fresh', consumer: 'c' }, async (d) => {
        got.push(n(d));
      });
      await eventually(() => got.length === 1, 'the message on the new topic');
      expect(got).toEqual([3]);
      expect(await kafkaLag(admin, [{ group, topics: [kept] }])).toEqual([
        { topic: kept, group, lag: 1 },
      ]);
    } finally {
      await subscriber.close();
      await second.close();
      await publisher.close();
    }
  });

  /**
   * Session 48: the consumer of a deleted topic crashed at every restart (the crashes named the
   * topic, the probe failed) until the process restarted, even once the topic was back; the
   * subscriber had created it at subscribe(), and a user expects it to again.
   */
  it('names the deleted topic in onError, creates it again and delivers what is published to it then', async () => {
    const { admin } = connection().client;
    const gone = ns.topic('consumed-gone');
    const kept = ns.topic('consumed-kept');
    const errors: Error[] = [];
    const got: number[] = [];
    const late: number[] = [];
    const publisher = new KafkaPublisher(connection().client, options);
    const subscriber = new KafkaSubscriber(connection().client, {
      ...options,
      unhealthyAfterCrashes: 2,
      onError: (error) => errors.push(error),
    });
    try {
      await publisher.publish(gone, [conformanceMessage(1, 'k')]);
      await publisher.publish(kept, [conformanceMessage(2, 'k')]);
      await subscriber.subscribe([gone, kept], { group: 'both', consumer: 'c' }, async (d) => {
        got.push(n(d));
      });
      // A 'latest' group: what the topic holds once it is back is new to it all the same.
      await subscriber.subscribe(
        [gone],
        { group: 'late', consumer: 'c', startFrom: 'latest' },
        async (d) => {
          late.push(n(d));
        },
      );
      await eventually(() => got.length === 2, 'the messages published before');
      const operatorAdmin = operator.admin();
      await operatorAdmin.connect();
      try {
        await operatorAdmin.deleteTopics({ topics: [gone] });
      } finally {
        await operatorAdmin.disconnect();
      }
      const named = `topic "${gone}" does not exist on the broker`;
      await eventually(
        () => errors.some((error) => error.message.includes(named)),
        'a crash naming the deleted topic',
      );
      expect(errors.every((error) => !error.message.includes(`topic "${kept}" does not`))).toBe(
        true,
      );

      // The subscriber creates it again (nothing else published to it since).
      await eventually(async () => (await admin.listTopics()).includes(gone), 'the topic back');
      await publisher.publish(gone, [conformanceMessage(3, 'k')]);
      await publisher.publish(kept, [conformanceMessage(4, 'k')]);
      await eventually(
        () => got.includes(3) && got.includes(4) && late.includes(3),
        'the messages published after',
      );
      expect(new Set(got)).toEqual(new Set([1, 2, 3, 4])); // at least once
      expect(new Set(late)).toEqual(new Set([3]));
      await expect(subscriber.probe().check()).resolves.toBeUndefined();
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  });
});
