import { CompressionCodecs, CompressionTypes, logLevel } from 'kafkajs';
import { testNamespace } from '@causeway/testkit';
import { type Delivery, type ManagedConnection } from '../src';
import {
  type KafkaClient,
  kafkaConnection,
  kafkaGroupId,
  KafkaPublisher,
  KafkaSubscriber,
  type KafkaSubscriberOptions,
} from '../src/kafka';
import { conformanceMessage } from '../src/testing';
import { publishGzipped, quickConsumer, removeKafkaNamespace, within } from './kafka.helpers';

const ns = testNamespace('kafkaclosecrash');
jest.setTimeout(90_000);

const n = (delivery: Delivery) => (delivery.envelope.data as { n: number }).n;
const codecs = CompressionCodecs as Record<number, () => unknown>;

/**
 * A subscription closed while its consumer crashes. kafkajs restarts a consumer whose crash is
 * retriable by a timer it sets once the crash's own disconnect has finished; a close() that
 * overlapped that disconnect resolved before the timer was set, and the closed subscription's
 * consumer came back: it joined the group again and held its partitions for good, consuming
 * nothing, so no other member of the group got them (session 36).
 */
describe('kafka: close() during a crash', () => {
  let connection: ManagedConnection<KafkaClient>;
  let working: () => unknown;
  let crashing: () => void = () => undefined;

  beforeAll(async () => {
    connection = kafkaConnection({
      brokers: ns.kafkaBrokers,
      clientId: ns.name('closecrash'),
      config: {
        // kafkajs logs "Crash: …" as it begins a crash, before its disconnect: the moment to close.
        logLevel: logLevel.ERROR,
        logCreator: () => (entry) => {
          if (entry.log.message.startsWith('Crash:')) crashing();
        },
      },
    });
    await connection.open();
    working = codecs[CompressionTypes.GZIP]!;
  });
  afterAll(async () => {
    codecs[CompressionTypes.GZIP] = working;
    await removeKafkaNamespace(connection.client.admin, ns);
    await connection.close();
  });

  it('stays closed: no restart, no delivery after close() resolved', async () => {
    const topic = ns.topic('closing');
    const crashes: string[] = [];
    const options: KafkaSubscriberOptions = {
      ...quickConsumer(ns, 1),
      onError: (e) => void crashes.push(e.message),
    };
    const publisher = new KafkaPublisher(connection.client, options);
    const subscriber = new KafkaSubscriber(connection.client, options);
    const got: number[] = [];
    try {
      await publisher.publish(topic, [conformanceMessage(0, 'k')]); // creates the topic
      await publishGzipped(connection.client.kafka, topic, [conformanceMessage(1, 'k')]);
      codecs[CompressionTypes.GZIP] = () => ({
        compress: () => Promise.reject(new Error('not used')),
        // A retriable cause: kafkajs restarts such a consumer by itself.
        decompress: () =>
          Promise.reject(
            Object.assign(new Error('test codec: broker went away'), { retriable: true }),
          ),
      });
      const handle = await subscriber.subscribe(
        [topic],
        { group: 'closing', consumer: 'c' },
        async (d) => void got.push(n(d)),
      );
      let closed: Promise<void> | undefined;
      await within(
        60_000,
        new Promise<void>((resolve) => {
          crashing = () => {
            closed ??= handle.close(); // as the consumer crashes
            resolve();
          };
        }),
      );
      await closed;
      codecs[CompressionTypes.GZIP] = working; // a consumer that came back would decode the batch
      await publisher.publish(topic, [conformanceMessage(2, 'k')]);
      // kafkajs restarts after its retry time; give a restart ample time to deliver.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      expect(crashes.length).toBeGreaterThan(0); // it did crash as it closed
      expect(got).toEqual([]);
      const groupId = kafkaGroupId('closing', options.groupIdPrefix);
      const { groups } = await connection.client.admin.describeGroups([groupId]);
      expect(groups[0]!.members).toEqual([]);
    } finally {
      codecs[CompressionTypes.GZIP] = working;
      await subscriber.close();
      await publisher.close();
    }
  });
});
