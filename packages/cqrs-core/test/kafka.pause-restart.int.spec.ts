import { CompressionCodecs, CompressionTypes, KafkaJSNonRetriableError } from 'kafkajs';
import { testNamespace } from '@causeway/testkit';
import { type Delivery, type ManagedConnection } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
} from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { eventually, removeKafkaNamespace, setTopicConfig, quickConsumer } from './kafka.helpers';

const ns = testNamespace('kafkapause');

jest.setTimeout(60_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
const codecs = CompressionCodecs as Record<number, () => unknown>;

/**
 * LOW-3.2 of review 16: a nacked message waits `redeliveryDelayMs` on a paused partition; a
 * supervisor restart (new kafkajs consumer group) forgot the pause and redelivered it at once.
 * The restart is real: this process's zstd codec fails for a moment on a zstd topic.
 */
describe('kafka: a redelivery delay across a consumer restart', () => {
  let connection: ManagedConnection<KafkaClient>;
  let working: () => unknown;

  beforeAll(async () => {
    connection = kafkaConnection({ brokers: ns.kafkaBrokers, clientId: ns.name('pause') });
    await connection.open();
    working = codecs[CompressionTypes.ZSTD]!;
  });
  afterAll(async () => {
    codecs[CompressionTypes.ZSTD] = working;
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  it('keeps the nacked partition paused for redeliveryDelayMs after the consumer restarted', async () => {
    const topic = ns.topic('paused');
    const crashes: Error[] = [];
    const options: KafkaSubscriberOptions = {
      ...quickConsumer(ns, 2),
      redeliveryDelayMs: 10_000,
      onError: (error) => crashes.push(error),
    };
    const publisher = new KafkaPublisher(connection.client, options);
    const subscriber = new KafkaSubscriber(connection.client, options);
    const attempts: { n: number; attempt: number; at: number }[] = [];
    try {
      await publisher.publish(topic, [conformanceMessage(0, 'bad')]);
      await setTopicConfig(connection.client.admin, topic, 'compression.type', 'zstd');
      await subscriber.subscribe([topic], { group: 'g', consumer: 'c' }, async (d) => {
        attempts.push({ n: n(d), attempt: d.attempt, at: Date.now() });
        if (n(d) === 0 && d.attempt === 1) throw new Error('fails once');
      });
      await eventually(() => attempts.length === 1, 'the first, failing delivery');
      const nackedAt = attempts[0]!.at;

      // Messages on both partitions (10 keys): the unpaused one's fetch crashes the consumer.
      codecs[CompressionTypes.ZSTD] = () => ({
        compress: () => Promise.reject(new Error('not used')),
        decompress: () => Promise.reject(new KafkaJSNonRetriableError('test codec: fails')),
      });
      await publisher.publish(
        topic,
        Array.from({ length: 10 }, (_, i) => conformanceMessage(i + 1, `key-${i}`)),
      );
      await eventually(() => crashes.length >= 1, 'a consumer crash');
      codecs[CompressionTypes.ZSTD] = working;

      await eventually(
        () => attempts.some((a) => a.n === 0 && a.attempt === 2),
        'the redelivery',
        20_000,
      );
      const redelivery = attempts.find((a) => a.n === 0 && a.attempt === 2)!;
      expect(redelivery.at - nackedAt).toBeGreaterThanOrEqual(9_900);
      await eventually(() => attempts.length >= 12, 'every message');
    } finally {
      codecs[CompressionTypes.ZSTD] = working;
      await subscriber.close();
      await publisher.close();
    }
  });
});
